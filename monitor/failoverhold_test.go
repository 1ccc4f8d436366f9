package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// placementLog follows the monitor's placement stream and keeps every
// placement it carried (snapshots and changes), in order, per service.
type placementLog struct {
	mu   sync.Mutex
	seen map[string][]api.Placement
	stop func()
}

// followPlacements opens the placement stream of h and records it until
// the test ends.
func followPlacements(t *testing.T, h *harness) *placementLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/v1/placements?watch=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("placement stream: %s", resp.Status)
	}
	l := &placementLog{seen: map[string][]api.Placement{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		for lines.Scan() {
			var ev api.PlacementEvent
			if json.Unmarshal(lines.Bytes(), &ev) != nil {
				continue
			}
			l.mu.Lock()
			for _, p := range ev.Placements {
				l.seen[p.Service] = append(l.seen[p.Service], p)
			}
			l.mu.Unlock()
		}
	}()
	l.stop = func() { cancel(); <-done }
	t.Cleanup(l.stop)
	return l
}

// of returns what the stream carried for service so far.
func (l *placementLog) of(service string) []api.Placement {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]api.Placement(nil), l.seen[service]...)
}

// describe is a placement as the assertions read it.
func describe(p api.Placement) string {
	s := p.Where + " " + p.Address.String()
	if p.FailingOver {
		s += " failing-over"
	}
	if p.Unavailable != "" {
		s += " unavailable=" + p.Unavailable
	}
	return s
}

// distinct drops repeats: the snapshot and the changes may carry the same
// placement twice.
func distinct(ps []api.Placement) []string {
	var out []string
	for _, p := range ps {
		if d := describe(p); len(out) == 0 || out[len(out)-1] != d {
			out = append(out, d)
		}
	}
	return out
}

// A whole host fails onto a standby with room for two of its four
// services: the placement stream marks every service failing over from its
// confirmed failure; the two recovered arrive on the standby without the
// flag; the two refused for capacity stop being held and say unavailable,
// with the reason; the one re-armed when a failback frees a slot is marked
// failing over again until it is on the standby. The warm service of the
// other host is never marked.
func TestPlacementStreamCarriesTheFailoverHold(t *testing.T) {
	var agent *slotAgent
	h := start(t, hostInventory, func(h *harness) {
		agent = &slotAgent{fakeAgent: h.agent, slots: 3}
		h.tune = func(o *Options) {
			o.Agents = func(inventory.Standby, TLSFiles) (Agent, error) { return agent, nil }
		}
	})
	for _, s := range []string{"s1", "s2", "s3", "s4", "w"} {
		h.eventually(s+" prepared", func() bool { return h.service(s).Standby.Prepared })
	}
	log := followPlacements(t, h)
	h.eventually("the stream's snapshot", func() bool { return len(log.of("s1")) > 0 })
	h.probes.set("hypervisor/host-a", true)
	for i := 1; i <= 4; i++ {
		addr := fmt.Sprintf("10.9.0.2%d", i)
		h.agent.setReachable(addr, false)
		h.probes.set(addr, true)
		h.probes.set(fmt.Sprintf("vm/vm%d/instance", i), true)
	}
	h.eventually("s1 and s2 on-standby, s3 and s4 unprotected", func() bool {
		return h.service("s1").State == "on-standby" && h.service("s2").State == "on-standby" &&
			h.service("s3").Unprotected != "" && h.service("s4").Unprotected != ""
	})
	const why = "unprotected: no capacity (needs 1 slot, 0 free)"
	h.eventually("the stream caught up", func() bool {
		last := func(s string) api.Placement { ps := log.of(s); return ps[len(ps)-1] }
		return last("s1").Where == recover.AtStandby && last("s2").Where == recover.AtStandby &&
			last("s3").Unavailable == why && last("s4").Unavailable == why
	})
	for _, s := range []string{"s1", "s2"} {
		got := distinct(log.of(s))
		if len(got) != 3 || got[0] != "primary "+primaryOf(s) || got[1] != "primary "+primaryOf(s)+" failing-over" ||
			got[2] != "standby "+h.service(s).Address {
			t.Errorf("%s: the stream carried %q, want primary, primary failing-over, standby", s, got)
		}
	}
	for _, s := range []string{"s3", "s4"} {
		want := []string{"primary " + primaryOf(s), "primary " + primaryOf(s) + " failing-over", "primary " + primaryOf(s) + " unavailable=" + why}
		if got := distinct(log.of(s)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: the stream carried %q, want %q", s, got, want)
		}
	}

	// s1 fails back: s3 (the higher of the two waiting) is re-armed and
	// held again until it runs on the standby.
	h.agent.setReachable("10.9.0.21", true)
	h.probes.set("10.9.0.21", false)
	h.probes.set("vm/vm1/instance", false)
	h.probes.set("hypervisor/host-a", false)
	if code, e := h.post("/v1/services/s1/failback", `{"reason":"home"}`); code != http.StatusAccepted {
		t.Fatalf("failback: %d %+v", code, e)
	}
	h.eventually("s3 on the standby in the stream", func() bool {
		ps := log.of("s3")
		return ps[len(ps)-1].Where == recover.AtStandby
	})
	got := distinct(log.of("s3"))
	if n := len(got); n < 5 || got[n-2] != "primary "+primaryOf("s3")+" failing-over" || got[n-1] != "standby "+h.service("s3").Address {
		t.Errorf("s3 after the re-arm: the stream carried %q, want failing-over again, then the standby", got)
	}
	// The hypervisor's recovery is a new finding for s4's primary, which
	// re-arms s4 for a moment: it is held again until the gate refuses it.
	h.eventually("s4 unavailable again in the stream", func() bool {
		ps := log.of("s4")
		return ps[len(ps)-1].Unavailable == why
	})
	// A proxy ignores a placement of an older epoch than the one it has:
	// the stream's epochs never go down (the snapshot shows a primary
	// without history with the monitor's epoch).
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		var last uint64
		for _, p := range log.of(s) {
			if p.Epoch < last {
				t.Errorf("%s: placement %s of epoch %d after epoch %d: a proxy would ignore it", s, describe(p), p.Epoch, last)
			}
			last = max(last, p.Epoch)
		}
	}
	for _, p := range log.of("w") {
		if p.FailingOver || p.Unavailable != "" {
			t.Errorf("w (host-b) was marked: %s", describe(p))
		}
	}
}

// primaryOf is the primary address of hostInventory's service sN.
func primaryOf(s string) string { return "10.9.0.2" + s[1:] }
