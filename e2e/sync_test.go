package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// syncDir is what the sync tests copy: a directory of the web root, not
// the root itself, whose index.html names the container (which tells the
// copies apart in answersFromStandby).
const syncDir = "/var/www/content"

// syncBound is how long a sync test may take.
const syncBound = 2 * time.Minute

// writeOnPrimary writes content to p inside the service's primary through
// host-a's file API, as the primary's own application would.
func (w *world) writeOnPrimary(ctx context.Context, s svc, p, content string) {
	w.t.Helper()
	f, err := w.hostA.Files(ctx, s.VM)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	_ = f.Mkdir(path.Dir(p)) // there already after the first write
	wr, err := f.Create(p)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := io.Copy(wr, strings.NewReader(content)); err != nil {
		w.t.Fatal(err)
	}
	if err := wr.Close(); err != nil {
		w.t.Fatal(err)
	}
}

// appendInventory adds text at the end of the world's inventory.
func (w *world) appendInventory(text string) {
	w.t.Helper()
	f, err := os.OpenFile(w.invPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		w.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		w.t.Fatal(err)
	}
}

// waitSynced waits for a good sync of the service that began after since.
func (r *running) waitSynced(ctx context.Context, t testing.TB, name string, since time.Time) api.ServiceStatus {
	t.Helper()
	st, err := r.waitService(ctx, name, func(st api.ServiceStatus) bool {
		return st.Sync != nil && st.Sync.LastGood.After(since)
	})
	if err != nil {
		t.Fatalf("%s never synced after %v: %v", name, since, err)
	}
	return st
}

// TestIntegrationSyncFailover: a warm and a cold service with a sync of
// their web root. A file written on each primary reaches its standby
// container within one every (the cold one while it is stopped); the
// primaries stopped, each standby serves the file, and the incident
// records how old the copy was.
func TestIntegrationSyncFailover(t *testing.T) {
	w := newWorld(t, 141, map[string]string{"sync-cold": "cold", "sync-warm": "warm"})
	w.withSync("{paths: [" + syncDir + "], every: 2s, max-rpo: 1m}")
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), syncBound)
	defer cancel()
	written := time.Now()
	for _, s := range w.services {
		r.waitPrepared(ctx, t, s.Name)
		if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
			t.Fatalf("monitor never saw %s up: %v", s.Name, err)
		}
		w.writeOnPrimary(ctx, s, syncDir+"/marker.html", "marker of "+s.Name)
	}
	for _, s := range w.services {
		st := r.waitSynced(ctx, t, s.Name, written)
		t.Logf("%s synced: %+v", s.Name, *st.Sync)
		if err := r.waitMetric(ctx, "understudy_sync_rpo_exceeded", s.Name, func(v float64) bool { return v == 0 }); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	for _, s := range w.services {
		if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
			t.Fatalf("force-stop primary %s: %v", s.VM, err)
		}
	}
	for _, s := range w.services {
		st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
			return st.State == "on-standby" && st.Sync != nil && st.Sync.Blocked != ""
		})
		if err != nil {
			t.Fatalf("%s never reached on-standby with its syncs blocked (none into an active standby): %v", s.Name, err)
		}
		addr, err := w.answersFromStandby(ctx, s)
		if err != nil {
			t.Fatalf("%s after failover: %v", s.Name, err)
		}
		body, err := getPath(ctx, addr, "/content/marker.html")
		if err != nil || strings.TrimSpace(body) != "marker of "+s.Name {
			t.Errorf("%s (%s) standby serves /marker.html %q (%v), want the primary's marker", s.Name, s.Mode, body, err)
		}
		c := st.LastIncident.Copy
		if c == nil || c.SyncedAt.IsZero() || c.AgeMS <= 0 || c.AgeMS > 60e3 || !strings.HasPrefix(c.Note, "served from a copy ") {
			t.Errorf("%s incident copy = %+v, want the age of a copy synced within max-rpo", s.Name, c)
		} else {
			t.Logf("%s (%s): %s (synced at %v)", s.Name, s.Mode, c.Note, c.SyncedAt)
		}
		t.Logf("%s on standby: syncs blocked: %s", s.Name, st.Sync.Blocked)
	}
}

// TestIntegrationSyncCancelledByFailover starts a slow sync (a 6 MB file
// under a 4 Mbit/s migration.bandwidth) and fails the service over while
// it copies: the sync stops, and the standby serves the last good copy.
func TestIntegrationSyncCancelledByFailover(t *testing.T) {
	w := newWorld(t, 142, map[string]string{"sync-cancel": "warm"})
	w.withSync("{paths: [" + syncDir + "], every: 2s}")
	w.appendInventory("migration: {bandwidth: 4Mbit}\n")
	s := w.services[0]
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), syncBound)
	defer cancel()
	r.waitPrepared(ctx, t, s.Name)
	written := time.Now()
	w.writeOnPrimary(ctx, s, syncDir+"/marker.html", "good copy")
	r.waitSynced(ctx, t, s.Name, written)

	w.writeOnPrimary(ctx, s, syncDir+"/big.bin", strings.Repeat("z", 6<<20))
	w.writeOnPrimary(ctx, s, syncDir+"/marker.html", "never synced")
	big := time.Now()
	if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.Sync != nil && st.Sync.Running && st.Sync.LastTry.After(big)
	}); err != nil {
		t.Fatalf("no sync started: %v", err)
	}
	if code, err := r.post(ctx, "/v1/services/"+s.Name+"/failover"); err != nil || code != http.StatusAccepted {
		t.Fatalf("failover: %d %v", code, err)
	}
	st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.State == "on-standby" && st.Sync != nil && !st.Sync.Running
	})
	if err != nil {
		t.Fatalf("never on standby with the sync stopped: %v", err)
	}
	if !strings.Contains(st.Sync.LastError, "sync not allowed now") {
		t.Errorf("sync's last error = %q, want the gate's refusal", st.Sync.LastError)
	}
	addr, err := w.answersFromStandby(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := getPath(ctx, addr, "/content/marker.html"); err != nil || strings.TrimSpace(body) != "good copy" {
		t.Errorf("standby serves %q (%v), want the last good copy", body, err)
	}
	if _, err := getPath(ctx, addr, "/content/big.bin"); err == nil {
		t.Error("the standby serves big.bin: the cancelled sync was swapped in")
	}
	t.Logf("incident: %s; sync: %+v", st.LastIncident.Copy.Note, *st.Sync)
}

// TestIntegrationSyncRsyncFailover: a cold service whose sync uses method
// rsync (ssh into its primary with the inventory's key; dropbear stands in
// for the VM's sshd): a file written on the primary reaches the stopped
// standby container, and after the primary stops the standby serves it.
func TestIntegrationSyncRsyncFailover(t *testing.T) {
	w := newWorld(t, 152, map[string]string{"sync-rsync": "cold"})
	s := w.services[0]
	ctx, cancel := context.WithTimeout(context.Background(), syncBound)
	defer cancel()
	key, pub := labconn.SSHKey(t, w.dir)
	labconn.SSHD(ctx, t, w.hostA, s.VM, pub)
	w.withSync("{paths: [" + syncDir + "], every: 2s, max-rpo: 1m, method: rsync, ssh: {key: " + key + "}}")
	r := w.startController(monitor.Options{})
	r.waitPrepared(ctx, t, s.Name)
	written := time.Now()
	w.writeOnPrimary(ctx, s, syncDir+"/marker.html", "rsynced marker")
	st := r.waitSynced(ctx, t, s.Name, written)
	t.Logf("synced: %+v", *st.Sync)
	if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary %s: %v", s.VM, err)
	}
	if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" }); err != nil {
		t.Fatalf("never on-standby: %v", err)
	}
	addr, err := w.answersFromStandby(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := getPath(ctx, addr, "/content/marker.html"); err != nil || strings.TrimSpace(body) != "rsynced marker" {
		t.Errorf("standby serves %q (%v), want the marker rsync brought", body, err)
	}
}

// TestIntegrationSyncWholeInstanceFailover: a cold service with a
// whole-instance sync (its e2e address .141, as TestIntegrationSyncFailover's
// first). A file written on the running primary reaches the stopped
// standby container within one every, by a refresh into its staging copy
// and a swap; the primary stopped, the standby serves the file, and the
// incident records how old the copy was.
func TestIntegrationSyncWholeInstanceFailover(t *testing.T) {
	w := newWorld(t, 141, map[string]string{"sync-whole": "cold"})
	w.withSync("{whole-instance: true, every: 2s, max-rpo: 1m}")
	s := w.services[0]
	staging := s.Name + inventory.SyncStagingSuffix
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, n := range []string{staging, s.Name + inventory.SyncSwapSuffix} {
			if err := w.standby.Delete(ctx, n); err != nil {
				t.Logf("cleanup: delete %s: %v", n, err)
			}
		}
	})
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), syncBound)
	defer cancel()
	r.waitPrepared(ctx, t, s.Name)
	if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
		t.Fatalf("monitor never saw %s up: %v", s.Name, err)
	}
	written := time.Now()
	w.writeOnPrimary(ctx, s, syncDir+"/marker.html", "whole marker of "+s.Name)
	st := r.waitSynced(ctx, t, s.Name, written)
	t.Logf("%s synced: %+v", s.Name, *st.Sync)
	if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary %s: %v", s.VM, err)
	}
	st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.State == "on-standby" && st.Sync != nil && st.Sync.Blocked != ""
	})
	if err != nil {
		t.Fatalf("%s never reached on-standby with its syncs blocked: %v", s.Name, err)
	}
	addr, err := w.answersFromStandby(ctx, s)
	if err != nil {
		t.Fatalf("%s after failover: %v", s.Name, err)
	}
	body, err := getPath(ctx, addr, "/content/marker.html")
	if err != nil || strings.TrimSpace(body) != "whole marker of "+s.Name {
		t.Errorf("standby serves /content/marker.html %q (%v), want the primary's marker", body, err)
	}
	if c := st.LastIncident.Copy; c == nil || c.SyncedAt.IsZero() || c.AgeMS <= 0 || c.AgeMS > 60e3 {
		t.Errorf("incident copy = %+v, want the age of a copy synced within max-rpo", c)
	} else {
		t.Logf("%s: %s", s.Name, c.Note)
	}
}
