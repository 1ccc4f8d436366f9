package drill

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeHost is a hypervisor of several fakeWorlds: one monitor, one DNS and
// one fault (the host's loss) over all of them.
type fakeHost struct {
	worlds  map[string]*fakeWorld
	order   []string
	injects int
	removes int
}

func newFakeHost(t *testing.T, names ...string) *fakeHost {
	h := &fakeHost{worlds: map[string]*fakeWorld{}, order: names}
	for _, n := range names {
		h.worlds[n] = newNamedWorld(t, n)
	}
	return h
}

func (h *fakeHost) config(restore bool) HostConfig {
	hc := HostConfig{Hypervisor: "host-a"}
	for _, n := range h.order {
		c := h.worlds[n].config()
		c.Kind, c.Restore = HostDown, restore
		hc.Services = append(hc.Services, c)
	}
	return hc
}

func (h *fakeHost) deps() Deps {
	return Deps{Monitor: h, Agent: fakeAgent{}, DNS: h, Fault: h, Hypervisor: &fakeHV{}}
}

func (h *fakeHost) Healthy(context.Context) error { return nil }

func (h *fakeHost) Service(ctx context.Context, name string) (ServiceStatus, error) {
	w, ok := h.worlds[name]
	if !ok {
		return ServiceStatus{}, errNoService
	}
	return w.Service(ctx, name)
}

func (h *fakeHost) Reset(ctx context.Context, name, reason string) error {
	return h.worlds[name].Reset(ctx, name, reason)
}

func (h *fakeHost) Lookup(ctx context.Context, fqdn string) ([]netip.Addr, error) {
	return h.worlds[strings.TrimSuffix(fqdn, ".lab.test.")].Lookup(ctx, fqdn)
}

func (h *fakeHost) Inject(ctx context.Context) error {
	h.injects++
	for _, w := range h.worlds {
		if err := w.fault.Inject(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (h *fakeHost) Remove(ctx context.Context) error {
	h.removes++
	var errs []error
	for _, w := range h.worlds {
		errs = append(errs, w.fault.Remove(ctx))
	}
	return errors.Join(errs...)
}

// TestRunHostRecoversEveryService: one injection takes three services down;
// each is watched, analysed and restored on its own, and the totals add
// them up.
func TestRunHostRecoversEveryService(t *testing.T) {
	h := newFakeHost(t, "s1", "s2", "s3")
	res, err := RunHost(context.Background(), h.config(true), h.deps())
	if err != nil {
		t.Fatalf("RunHost: %v", err)
	}
	if h.injects != 1 || h.removes != 1 {
		t.Errorf("fault injected %d, removed %d times; want once each", h.injects, h.removes)
	}
	if res.Verdict != Recovered || res.Total != 3 || res.Recovered != 3 {
		t.Fatalf("verdict %s, %d of %d recovered; notes %v", res.Verdict, res.Recovered, res.Total, res.Notes)
	}
	if res.AllServedMS == nil || res.P50MS == nil || res.P95MS == nil || *res.P50MS > *res.AllServedMS {
		t.Errorf("all served %v, p50 %v, p95 %v: want p50 <= all served", deref(res.AllServedMS), deref(res.P50MS), deref(res.P95MS))
	}
	var okDNS int
	for i, r := range res.Services {
		if r.Service != h.order[i] || r.Host != "host-a" || r.Verdict != Recovered || !r.Restored {
			t.Errorf("service %d: %s host %q verdict %s restored %v", i, r.Service, r.Host, r.Verdict, r.Restored)
		}
		if *r.RecoveryMS > *res.AllServedMS {
			t.Errorf("%s recovered at %d ms, after all served at %d ms", r.Service, *r.RecoveryMS, *res.AllServedMS)
		}
		okDNS += r.Requests.DNS.OK
		if w := h.worlds[r.Service]; w.resets != 1 || w.state != "primary" {
			t.Errorf("%s: resets %d, state %s; want it back on its primary", r.Service, w.resets, w.state)
		}
	}
	if res.Requests.DNS.OK != okDNS {
		t.Errorf("total DNS answers %d, the services' sum %d", res.Requests.DNS.OK, okDNS)
	}
	if res.SlowestStep == "" || len(res.Steps) == 0 {
		t.Errorf("steps %+v, slowest %q: want them", res.Steps, res.SlowestStep)
	}
}

// TestRunHostRefusesWithEveryReason: a service not on its primary refuses
// the whole host drill before anything is injected, naming the service.
func TestRunHostRefusesWithEveryReason(t *testing.T) {
	h := newFakeHost(t, "s1", "s2")
	h.worlds["s2"].state = "on-standby"
	_, err := RunHost(context.Background(), h.config(false), h.deps())
	if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "s2: ") {
		t.Fatalf("RunHost = %v, want a preflight refusal naming s2", err)
	}
	if h.injects != 0 {
		t.Errorf("injected %d times, want never", h.injects)
	}
}

// TestRunHostReportsTheOneThatDidNotRecover: a service the monitor never
// fails over makes the host drill not recovered, with no all-served time,
// and the fault is still removed.
func TestRunHostReportsTheOneThatDidNotRecover(t *testing.T) {
	h := newFakeHost(t, "s1", "s2")
	h.worlds["s2"].noFail = true
	hc := h.config(false)
	for i := range hc.Services {
		hc.Services[i].Timeout = 500 * time.Millisecond
	}
	res, err := RunHost(context.Background(), hc, h.deps())
	if err != nil {
		t.Fatalf("RunHost: %v", err)
	}
	if res.Verdict != NotRecovered || res.Recovered != 1 || res.AllServedMS != nil || res.P50MS == nil {
		t.Errorf("verdict %s, recovered %d, all served %v, p50 %v: want not recovered, 1, none, s1's",
			res.Verdict, res.Recovered, deref(res.AllServedMS), deref(res.P50MS))
	}
	if h.removes != 1 {
		t.Errorf("fault removed %d times, want once", h.removes)
	}
}
