package monitor

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// poolInventory is testInventory with the agent's pool on the standby VM.
var poolInventory = strings.Replace(testInventory,
	"  - {name: sb, agent: https://127.0.0.1:1, zone: az1, capacity: {containers: 20, memory: 4GiB}}\n",
	"  - {name: sb, agent: https://127.0.0.1:1, zone: az1, capacity: {containers: 20, memory: 4GiB},\n"+
		"     network: {gateway: 10.9.1.1, prefix-len: 24, pool: 10.9.1.10-10.9.1.20}}\n", 1)

// TestActivationAddressMustBeInPool: an address the agent answers from an
// activation that lies outside that standby's pool is a permanent error of
// the activate step; nothing reaches DNS and the primary's record stays.
func TestActivationAddressMustBeInPool(t *testing.T) {
	if poolInventory == testInventory {
		t.Fatal("poolInventory did not add the network")
	}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{{"10.9.1.10", true}, {"10.9.1.20", true}, {"10.9.1.21", false}, {"10.9.0.11", false}, {"203.0.113.7", false}} {
		agent := newFakeAgent()
		agent.actAddr = tc.addr
		agent.prepared["web"] = standby.ServiceSpec{Name: "web"}
		c := newIdle(t, poolInventory, map[string]*fakeAgent{"sb": agent})
		act, err := c.step.Activate(t.Context(), 1, "web")
		switch {
		case tc.ok && (err != nil || act.Address != netip.MustParseAddr(tc.addr)):
			t.Errorf("%s: %+v, %v; want it accepted", tc.addr, act, err)
		case !tc.ok && (!errors.Is(err, recover.ErrPermanent) || !strings.Contains(err.Error(), "outside its pool 10.9.1.10-10.9.1.20")):
			t.Errorf("%s: err = %v, want a permanent error naming the pool", tc.addr, err)
		}
	}

	h := start(t, poolInventory, func(h *harness) { h.agent.actAddr = "203.0.113.7" })
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	if code, e := h.post("/v1/services/web/failover", `{"reason":"drill"}`); code != 202 {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("the activate step failed", func() bool {
		inc := h.service("web").LastIncident
		return inc != nil && strings.Contains(inc.LastError, "outside its pool")
	})
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.0.11" {
		t.Errorf("DNS = %v, want the primary's 10.9.0.11 untouched", got)
	}
}

// TestDataDiskReachesTheAgent: container.data-disk is part of the spec the
// controller prepares on the standby agent.
func TestDataDiskReachesTheAgent(t *testing.T) {
	text := strings.Replace(testInventory, "    mode: cold\n    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}\n",
		"    mode: cold\n    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}, data-disk: {source: /srv/api, path: /data}}\n", 1)
	h := start(t, text, nil)
	h.eventually("api prepared", func() bool { return h.service("api").Standby.Prepared })
	prepared, _, _ := h.agent.snapshot()
	if d := prepared["api"].DataDisk; d == nil || *d != (standby.DataDisk{Source: "/srv/api", Path: "/data"}) {
		t.Errorf("prepared data disk = %+v, want /srv/api at /data", d)
	}
	if !h.ctrl.plan().Services["api"].Service.FenceRequired {
		t.Error("a service with a data disk is not fence-required by default")
	}
}

// TestStatusShowsMissingDataDisk: an agent that refuses a prepare because
// the data disk's source is missing shows in status as "standby not ready".
func TestStatusShowsMissingDataDisk(t *testing.T) {
	text := strings.Replace(testInventory, "    mode: cold\n    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}\n",
		"    mode: cold\n    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}, data-disk: {source: /srv/api, path: /data}}\n", 1)
	h := start(t, text, func(h *harness) {
		h.agent.prepErr = fmt.Errorf("PUT /v1/services/api: %w", &standby.RemoteError{Status: 422, Message: "data disk /srv/api missing"})
	})
	h.eventually("the failure is reported", func() bool { return h.service("api").Standby.Error != "" })
	// The fake's RemoteError has no sentinel: the raw text is shown.
	if got := h.service("api").Standby.Error; strings.HasPrefix(got, "standby not ready") {
		t.Errorf("an error without the sentinel was rewritten: %q", got)
	}
	h.stop()

	h = start(t, text, func(h *harness) {
		h.agent.prepErr = fmt.Errorf("prepare: %w", standby.ErrDataDiskMissing)
	})
	want := "standby not ready: data disk /srv/api missing"
	h.eventually("status says "+want, func() bool { return h.service("api").Standby.Error == want })
}

// TestActivatorCarriesFallbackReason: why a restore fell back to a cold
// start travels from the agent's activation to recover's Activation (and so
// to the incident record, see recover's restore_fallback scenario).
func TestActivatorCarriesFallbackReason(t *testing.T) {
	agent := newFakeAgent()
	agent.prepared["web"] = standby.ServiceSpec{Name: "web"}
	agent.actFall = "cold start: restore failed: criu: vdso"
	c := newIdle(t, testInventory, map[string]*fakeAgent{"sb": agent})
	act, err := c.step.Activate(t.Context(), 1, "web")
	if err != nil || act.Fallback != "cold start: restore failed: criu: vdso" || act.Restored {
		t.Errorf("activation = %+v, %v", act, err)
	}
}
