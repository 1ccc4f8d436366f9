package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// The cold-standby experiment's names and addresses (HACKING.md): eight
// full-OS primaries t-seeds-{cold,vm}-{a..d}-vm on host-a 10.200.0.100-107,
// their standby containers from 10.200.1.190-199, the restored "VMs" on
// spare-1 10.200.2.82-85.
const (
	seedsRestorePrefix  = "t-seeds-"
	seedsRestoreBase    = 100
	seedsRestorePool    = "10.200.1.190-10.200.1.199"
	seedsRestoreSpare   = "10.200.2.%d"
	seedsRestoreSpare1  = 82
	seedsImage          = "understudy-debian"
	seedsRestoreBound   = 5 * time.Minute // one arm's recovery, at most
	seedsRestoreExports = "/var/lib/understudy-seeds/exports"
	armCold             = "understudy-cold"
	armVM               = "vm-restore"
)

// seedsRestoreRun is one arm's figures in one run, as bench/seeds-restore.sh reads them.
type seedsRestoreRun struct {
	Run        int       `json:"run"`
	Arm        string    `json:"arm"`          // understudy-cold or vm-restore
	Order      int       `json:"order"`        // 1: this arm went first in the run, 2: second
	AllServedS float64   `json:"all_served_s"` // injection -> the last of the 4 served at its new address
	ServedS    []float64 `json:"served_s"`     // per service: injection -> DNS flipped and HTTP answers there
	DetectedS  []float64 `json:"detected_s"`   // per service: injection -> the incident's detected phase
	RecoveryS  []float64 `json:"recovery_s"`   // per service: the recovery step (exec: restore; activate: cold start)
	StopS      float64   `json:"stop_s"`       // the 4 force-stops, all returned
	Load1Start float64   `json:"load1_start"`
	Load1End   float64   `json:"load1_end"`
	BackupMB   float64   `json:"backup_mb"` // the vm-restore arm's tarballs, each (0 on the other arm)
	Backup     string    `json:"backup"`    // how they were made
}

// BenchmarkSeedsRestore is issue 20's experiment 1 (VCRecovery's cold
// standby against a VM restored from backup), a measurement rather than a
// test, so CI neither runs nor skips it: bench/seeds-restore.sh runs it
// with -bench '^BenchmarkSeedsRestore$' -benchtime 1x. Eight full-OS
// primaries (image understudy-debian, bench/seeds-image.sh) on host-a,
// four per arm, all under one monitor. Arm understudy-cold: cold
// containers of the same image in the shared standby (the default cold
// playbook). Arm vm-restore: each primary exported in advance (`incus
// export --instance-only`, under /var/lib/understudy-seeds/exports); its
// playbook is confirm, fence, then an exec step running
// bench/seeds-vm-restore.sh (import on spare-1, start, port check, the DNS
// compare-and-swap), so detection, confirmation and fence are the same
// monitor steps. The grammar needs an activate and a wait-healthy: these
// services are warm, so the two steps cost milliseconds, after the flip.
// Each run force-stops the four primaries of one arm at once, then of the
// other (the order alternates), and measures the time from the injection
// until all four names resolve at BIND to a new address that answers HTTP
// from the recovered copy. SEEDS_RESTORE_RUNS runs (3) numbered from
// SEEDS_RESTORE_FIRST (1); each arm's figures go to
// SEEDS_RESTORE_OUT/run-N-ARM.json (default: a temporary directory).
// SEEDS_RESTORE_UNDERSTUDY is the understudy binary the exec step flips
// DNS with (default: built here).
func BenchmarkSeedsRestore(b *testing.B) {
	out := os.Getenv("SEEDS_RESTORE_OUT")
	if out == "" {
		out = b.TempDir()
		b.Logf("SEEDS_RESTORE_OUT unset: the runs' figures go to %s", out)
	}
	runs, first := envInt(b, "SEEDS_RESTORE_RUNS", 3), envInt(b, "SEEDS_RESTORE_FIRST", 1)
	modes := map[string]string{}
	for _, l := range []string{"a", "b", "c", "d"} {
		modes["cold-"+l], modes["vm-"+l] = "cold", "warm"
	}
	w := newWorldImage(b, seedsRestorePrefix, seedsRestoreBase, modes, labtest.DNSBind, seedsRestorePool, "{containers: 20, memory: 4GiB}", seedsImage)
	arms := map[string][]svc{}
	for _, s := range w.services {
		arm := armCold
		if s.Mode == "warm" {
			arm = armVM
		}
		arms[arm] = append(arms[arm], s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(runs)*4*seedsRestoreBound)
	defer cancel()
	// systemd and lighttpd want more than the busybox image's 64 MiB.
	w.editInventory(func(text string) string { return strings.ReplaceAll(text, "memory: 64MiB", "memory: 256MiB") })
	sb := w.seedsBaseline(ctx, b, arms[armVM])
	r := w.startController(monitor.Options{Logger: quietLogger(b)})
	for _, s := range w.services {
		r.waitPrepared(ctx, b, s.Name)
	}
	order := []string{armCold, armVM}
	for i := first; i < first+runs; i++ {
		for k, arm := range order {
			res := seedsRestoreOnce(b, ctx, w, r, arms[arm], arm == armVM)
			res.Run, res.Arm, res.Order = i, arm, k+1
			if arm == armVM {
				res.BackupMB, res.Backup = sb.mb, sb.how
				sb.removeRestored(ctx, b)
			}
			b.Logf("run %d %s: all served %.2fs, each %v, detected %v, recovery step %v", i, arm, res.AllServedS, res.ServedS, res.DetectedS, res.RecoveryS)
			data, _ := json.MarshalIndent(res, "", "  ")
			if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("run-%d-%s.json", i, arm)), data, 0o644); err != nil {
				b.Fatal(err)
			}
			if arm == armVM {
				w.seedsPointBack(ctx, b, r, arms[arm])
			}
			seedsRestoreBack(b, ctx, w, r, arms[arm])
		}
		slices.Reverse(order)
	}
}

// seedsRestoreOnce force-stops the primaries of services at once and
// measures until each name resolves to a new address serving its copy: the
// restored VM (its instance name) when vm, else the standby container.
func seedsRestoreOnce(b *testing.B, ctx context.Context, w *world, r *running, services []svc, vm bool) seedsRestoreRun {
	b.Helper()
	before := map[string]string{}
	for _, s := range services {
		r.waitReady(b, s)
		if st, err := r.service(ctx, s.Name); err == nil && st.LastIncident != nil {
			before[s.Name] = st.LastIncident.ID
		}
	}
	res := seedsRestoreRun{Load1Start: load1(b)}
	served := make([]time.Duration, len(services))
	var wg sync.WaitGroup
	wctx, stopWatch := context.WithTimeout(ctx, seedsRestoreBound)
	defer stopWatch()
	t0 := time.Now()
	for i, s := range services {
		want := s.Name
		if vm {
			want = s.VM
		}
		wg.Go(func() { served[i] = watchServed(wctx, w.lab.DNSServer, s, want, t0) })
	}
	stopErrs := make([]error, len(services))
	var stops sync.WaitGroup
	for i, s := range services {
		stops.Go(func() { stopErrs[i] = w.hostA.Stop(ctx, s.VM, 0) })
	}
	stops.Wait()
	res.StopS = time.Since(t0).Seconds()
	wg.Wait()
	for i, err := range stopErrs {
		if err != nil {
			b.Fatalf("force-stop %s: %v", services[i].VM, err)
		}
	}
	for i, s := range services {
		if served[i] == 0 {
			st, _ := r.service(ctx, s.Name)
			j, _ := json.Marshal(st)
			b.Fatalf("%s never served at a new address within %v; status %s", s.Name, seedsRestoreBound, j)
		}
		res.ServedS = append(res.ServedS, served[i].Seconds())
		res.AllServedS = max(res.AllServedS, served[i].Seconds())
	}
	for _, s := range services {
		st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
			return st.LastIncident != nil && st.LastIncident.ID != before[s.Name] && !st.LastIncident.Open
		})
		if err != nil {
			b.Fatalf("%s: the incident never closed: %v", s.Name, err)
		}
		det, rec := seedsIncidentTimes(st.LastIncident, t0, vm)
		res.DetectedS, res.RecoveryS = append(res.DetectedS, det), append(res.RecoveryS, rec)
	}
	res.Load1End = load1(b)
	return res
}

// watchServed resolves s's name at server and GETs the address every 20
// ms until the name points away from the primary and the address answers
// want; it returns the time since t0 (0 when ctx ends first).
func watchServed(ctx context.Context, server string, s svc, want string, t0 time.Time) time.Duration {
	for ctx.Err() == nil {
		addrs, err := lookupA(ctx, server, s.FQDN)
		if err == nil && len(addrs) == 1 && addrs[0] != s.Address {
			gctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			body, err := getBody(gctx, addrs[0])
			cancel()
			if err == nil && body == want {
				return time.Since(t0)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	return 0
}

// seedsIncidentTimes is the incident's detection (since t0) and its
// recovery step's length (exec on the vm-restore arm, activate on the
// other), in seconds.
func seedsIncidentTimes(inc *api.IncidentStatus, t0 time.Time, vm bool) (detected, recovery float64) {
	for _, p := range inc.Phases {
		if p.Phase == "detected" {
			detected = p.At.Sub(t0).Seconds()
		}
	}
	kind := "activate"
	if vm {
		kind = "exec"
	}
	for _, st := range inc.Steps {
		if st.Kind == kind {
			recovery = st.MS / 1000
		}
	}
	return detected, recovery
}

// seedsRestoreBack starts the primaries again and resets each service to
// its own (POST reset: the DNS swap back and the standby slot's reset).
func seedsRestoreBack(b *testing.B, ctx context.Context, w *world, r *running, services []svc) {
	b.Helper()
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Go(func() {
			if errs[i] = w.hostA.Start(ctx, s.VM); errs[i] == nil {
				errs[i] = waitHTTP(ctx, s.Address, s.VM)
			}
		})
	}
	wg.Wait()
	for i, s := range services {
		if errs[i] != nil {
			b.Fatalf("restart the primary %s: %v", s.VM, errs[i])
		}
		code, err := r.post(ctx, "/v1/services/"+s.Name+"/reset")
		if err != nil || code != http.StatusAccepted {
			b.Fatalf("reset %s: %d %v", s.Name, code, err)
		}
		if addrs, err := lookupA(ctx, w.lab.DNSServer, s.FQDN); err != nil || len(addrs) != 1 || addrs[0] != s.Address {
			b.Fatalf("after reset %s = %v (%v), want %s", s.FQDN, addrs, err, s.Address)
		}
	}
	for _, s := range services {
		r.waitPrepared(ctx, b, s.Name)
	}
}

// seedsPointBack points the names of the vm-restore arm's services from
// the restored VMs back at their standby containers, where the monitor
// placed them (the exec step flipped DNS behind its back), so that the
// reset's compare-and-swap to the primary holds.
func (w *world) seedsPointBack(ctx context.Context, b *testing.B, r *running, services []svc) {
	b.Helper()
	for i, s := range services {
		st, err := r.service(ctx, s.Name)
		if err != nil {
			b.Fatal(err)
		}
		to, err := netip.ParseAddr(st.Address)
		if err != nil {
			b.Fatalf("%s: the monitor places it at %q: %v", s.Name, st.Address, err)
		}
		from := netip.MustParseAddr(fmt.Sprintf(seedsRestoreSpare, seedsRestoreSpare1+i))
		if err := w.dns.Replace(ctx, s.FQDN, []netip.Addr{to}, 10*time.Second, []netip.Addr{from}); err != nil {
			b.Fatalf("point %s back from %s to %s: %v", s.FQDN, from, to, err)
		}
	}
}

// seedsBaseline is the vm-restore arm's side: its backups, spare-1 and the
// restored instances' names.
type seedsBaseline struct {
	spare    *lxd.Client
	restored []string
	mb       float64
	how      string
}

// seedsBaseline exports the primaries of services (the backups of the
// conventional cold standby, taken in advance), writes each service's
// playbook (confirm, fence, exec bench/seeds-vm-restore.sh, activate,
// wait-healthy) and names it in the inventory. The restored instances on
// spare-1 are removed now and at the end.
func (w *world) seedsBaseline(ctx context.Context, b *testing.B, services []svc) *seedsBaseline {
	b.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	us := os.Getenv("SEEDS_RESTORE_UNDERSTUDY")
	if us == "" {
		us = filepath.Join(w.dir, "understudy")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", us, "./cmd/understudy")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build understudy for the exec step: %v: %s", err, out)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		b.Fatal(err)
	}
	spare, err := lxd.Connect(ctx, lxd.Conn{Name: "spare-1", Socket: w.lab.Spare.Socket})
	if err != nil {
		b.Fatalf("connect to spare-1: %v", err)
	}
	b.Cleanup(spare.Close)
	sb := &seedsBaseline{spare: spare, how: "incus export --instance-only --compression none (the fastest import)"}
	for _, s := range services {
		sb.restored = append(sb.restored, s.VM)
	}
	sb.removeRestored(ctx, b)
	b.Cleanup(func() { sb.removeRestored(context.Background(), b) })
	backups := w.exportAll(ctx, b, root, services)
	for _, p := range backups {
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		sb.mb = float64(fi.Size()) / (1 << 20)
	}
	for i, s := range services {
		pb := filepath.Join(w.dir, "playbook-"+s.Name+".yaml")
		argv := []string{bash, filepath.Join(root, "bench", "seeds-vm-restore.sh"), "spare-1", backups[i], s.VM,
			fmt.Sprintf(seedsRestoreSpare, seedsRestoreSpare1+i), w.lab.Spare.Gateway, s.FQDN, s.Address, w.invPath, us}
		if err := os.WriteFile(pb, []byte(seedsBaselinePlaybook(argv)), 0o644); err != nil {
			b.Fatal(err)
		}
		w.editInventory(func(text string) string {
			return strings.Replace(text, "  - name: "+s.Name+"\n", "  - name: "+s.Name+"\n    playbook: "+pb+"\n", 1)
		})
	}
	return sb
}

// seedsBaselinePlaybook is the vm-restore arm's playbook: the cold
// default's confirm and fence, the restore as an exec step, and the warm
// container's activate and wait-healthy the grammar requires.
func seedsBaselinePlaybook(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strconv.Quote(a)
	}
	return `- step: confirm
  timeout: 1s
  retry: {backoff: 200ms, max-backoff: 1s, budget: 3s}
- step: fence
  timeout: 5s
  retry: {attempts: 2, backoff: 500ms}
- step: exec
  command: [` + strings.Join(q, ", ") + `]
  timeout: 5m
- step: activate
  timeout: 5s
  retry: {backoff: 250ms, max-backoff: 2s, budget: 2m}
- step: wait-healthy
  timeout: 5s
  retry: {backoff: 500ms, max-backoff: 5s, budget: 1m}
`
}

// exportAll exports the primaries of services on host-a at once, into
// seedsRestoreExports, and returns the tarballs' paths.
func (w *world) exportAll(ctx context.Context, b *testing.B, root string, services []svc) []string {
	b.Helper()
	if err := os.MkdirAll(seedsRestoreExports, 0o755); err != nil {
		b.Fatal(err)
	}
	paths := make([]string, len(services))
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	start := time.Now()
	for i, s := range services {
		paths[i] = filepath.Join(seedsRestoreExports, s.VM+".tar")
		_ = os.Remove(paths[i])
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "examples", "lab", "lab.sh"), "cli", "host-a",
				"export", s.VM, paths[i], "--instance-only", "--compression", "none")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("export %s: %w: %s", s.VM, err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("exported %d primaries in %v", len(services), time.Since(start))
	return paths
}

// removeRestored deletes the restored instances on spare-1.
func (sb *seedsBaseline) removeRestored(ctx context.Context, b *testing.B) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, name := range sb.restored {
		if err := sb.spare.Delete(ctx, name); err != nil {
			b.Errorf("delete the restored %s on spare-1: %v", name, err)
		}
	}
}

// load1 is the one-minute load average.
func load1(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}
