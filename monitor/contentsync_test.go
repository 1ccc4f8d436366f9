package monitor

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// syncInventory gives web a sync of its web root every second.
var syncInventory = strings.Replace(testInventory,
	"    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}\n  - name: api",
	"    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}\n    sync: {paths: [/var/www], every: 1s, max-rpo: 1m}\n  - name: api", 1)

// The daemon runs web's sync while it leads and shows it in the status
// (a fake hypervisor has no file API: the sync fails, and says why); api,
// without sync, has none. A failover records the recovery point in the
// incident (no sync had succeeded), and blocks the syncs while the
// service is on its standby.
func TestSyncRunsAndStopsAtFailover(t *testing.T) {
	if !strings.Contains(syncInventory, "sync:") {
		t.Fatal("testInventory changed: no place for the sync")
	}
	h := start(t, syncInventory, func(h *harness) {
		h.tune = func(o *Options) { o.SyncTick = 10 * time.Millisecond }
	})
	h.eventually("web's sync tried", func() bool {
		s := h.service("web").Sync
		return s != nil && strings.Contains(s.LastError, "has no file access")
	})
	if s := h.service("api").Sync; s != nil {
		t.Errorf("api has a sync status %+v without sync", s)
	}
	if s := h.service("web").Sync; s.MaxRPOMS != 60e3 || !s.LastGood.IsZero() {
		t.Errorf("web sync = %+v, want max-rpo 1m and no good sync", s)
	}
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	if code, e := h.post("/v1/services/web/failover", ""); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("web on standby with its syncs blocked", func() bool {
		s := h.service("web")
		return s.State == "on-standby" && s.Sync != nil && strings.Contains(s.Sync.Blocked, "on-standby")
	})
	c := h.service("web").LastIncident.Copy
	if c == nil || !c.SyncedAt.IsZero() || c.MaxRPOMS != 60e3 || c.Note != "no sync had succeeded: served from the standby's image" {
		t.Errorf("incident copy = %+v, want no good sync recorded", c)
	}
}

// A monitor that no longer leads publishes no sync status nor metrics:
// its statuses stopped with its term (it keeps them for its next one).
func TestSyncStatusOnlyWhileLeading(t *testing.T) {
	h := start(t, syncInventory, func(h *harness) {
		h.tune = func(o *Options) { o.SyncTick = 10 * time.Millisecond }
	})
	h.eventually("web's sync tried", func() bool {
		s := h.service("web").Sync
		return s != nil && s.LastError != ""
	})
	if got := gathered(h.ctrl, "understudy_sync_runs_total", "service", "web"); got < 1 {
		t.Fatalf("understudy_sync_runs_total{service=web} = %v while leading, want at least 1", got)
	}
	h.stop() // the term ends
	if h.ctrl.roles.leading() != nil {
		t.Fatal("still leading after Run returned")
	}
	if _, ok := h.ctrl.syncer.Status("web"); !ok {
		t.Fatal("the runner forgot web's status (the test needs one kept)")
	}
	if s := h.ctrl.syncStatus("web"); s != nil {
		t.Errorf("sync status while not leading = %+v, want none", s)
	}
	if got := gathered(h.ctrl, "understudy_sync_runs_total", "service", "web"); got != -1 {
		t.Errorf("understudy_sync_runs_total{service=web} = %v while not leading, want no series", got)
	}
}

// wholeInventory gives api (cold) a whole-instance sync every second, and
// migration a bandwidth cap.
var wholeInventory = strings.Replace(strings.Replace(testInventory,
	"    mode: cold\n    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}\n",
	"    mode: cold\n    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}\n    sync: {whole-instance: true, every: 1s}\n", 1),
	"services:\n", "migration: {bandwidth: 8Mbit}\nservices:\n", 1)

// The daemon runs a whole-instance sync through syncInstances (the test's
// inventory names no standby VM's Incus: the sync fails, and says why), and the
// migrations and syncs share one limiter at migration.bandwidth.
func TestWholeInstanceSyncRuns(t *testing.T) {
	if !strings.Contains(wholeInventory, "whole-instance") || !strings.Contains(wholeInventory, "bandwidth") {
		t.Fatal("testInventory changed: no place for the sync")
	}
	h := start(t, wholeInventory, func(h *harness) {
		h.tune = func(o *Options) { o.SyncTick = 10 * time.Millisecond }
	})
	h.eventually("api's whole-instance sync tried", func() bool {
		s := h.service("api").Sync
		return s != nil && strings.Contains(s.LastError, "refresh the staging copy") && strings.Contains(s.LastError, "its Incus is unknown")
	})
	lim := h.ctrl.bandwidth()
	if lim != h.ctrl.bandwidth() || lim.Rate() != 1e6 {
		t.Errorf("bandwidth() = %p at %d B/s, want one shared limiter at 8 Mbit/s", lim, lim.Rate())
	}
}
