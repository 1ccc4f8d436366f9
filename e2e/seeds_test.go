package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// The names and addresses of experiments 1 and 2 (HACKING.md; they never
// run at the same time): eight full-OS primaries t-seeds-*-{a..d}-vm on
// host-a 10.200.0.100-107, their standby containers from 10.200.1.190-199,
// the baseline's instances on spare-1 from 10.200.2.82-91 (experiment 1's
// restored VMs .82-85, experiment 2's dedicated standbys .86-89).
const (
	seedsPrefix       = "t-seeds-"
	seedsBase         = 100
	seedsPool         = "10.200.1.190-10.200.1.199"
	seedsSpare        = "10.200.2.%d"
	seedsImage        = "understudy-debian"
	seedsBound        = 5 * time.Minute // one arm's recovery, at most
	seedsExportDir    = "/var/lib/understudy-seeds/exports"
	seedsRestoreSpare = 82
	seedsWarmSpare    = 86
)

// seedsExp is one of the two side-by-side experiments: understudy's arm
// (its services in mode ours) against the conventional standby's (action
// restore or warm of bench/seeds-vm-standby.sh).
type seedsExp struct {
	env      string // the environment's prefix: SEEDS_RESTORE, SEEDS_WARM
	ours     string // understudy's arm: understudy-cold, understudy-warm
	oursMode string // its services' mode: cold, warm
	base     string // the baseline's arm: vm-restore, vm-warm
	action   string // restore or warm
	spare    int    // the baseline's first address on spare-1 (last octet)
}

// seedsRestoreRun is one arm's figures in one run, as bench/seeds-restore.sh
// and bench/seeds-warm.sh read them.
type seedsRestoreRun struct {
	Run        int       `json:"run"`
	Arm        string    `json:"arm"`          // understudy-cold, understudy-warm, vm-restore or vm-warm
	Order      int       `json:"order"`        // 1: this arm went first in the run, 2: second
	AllServedS float64   `json:"all_served_s"` // injection -> the last of the 4 served at its new address
	ServedS    []float64 `json:"served_s"`     // per service: injection -> DNS flipped and HTTP answers there
	DetectedS  []float64 `json:"detected_s"`   // per service: injection -> the incident's detected phase
	RecoveryS  []float64 `json:"recovery_s"`   // per service: the recovery step (exec on the baseline, activate on ours)
	StopS      float64   `json:"stop_s"`       // the 4 force-stops, all returned
	Load1Start float64   `json:"load1_start"`
	Load1End   float64   `json:"load1_end"`
	BackupMB   float64   `json:"backup_mb,omitempty"` // vm-restore: the tarballs, each, in MiB
	Backup     string    `json:"backup,omitempty"`    // vm-restore: how they were made
	Fallbacks  []string  `json:"fallbacks,omitempty"` // understudy-restore: why a service cold started instead ("" restored)
	Standbys   int       `json:"standbys"`            // standby VMs the arm keeps running: 1 shared, 1 per service, or 0 (restore)
}

// BenchmarkSeedsRestore is issue 20's experiment 1 (VCRecovery's cold
// standby against a VM restored from backup), a measurement rather than a
// test, so CI neither runs nor skips it: bench/seeds-restore.sh runs it
// with -bench '^BenchmarkSeedsRestore$' -benchtime 1x. Arm understudy-cold:
// cold containers of the primaries' image in the shared standby (the
// default cold playbook). Arm vm-restore: each primary exported in advance
// (`incus export --instance-only`, under /var/lib/understudy-seeds/exports);
// its exec step imports it on spare-1, starts it, checks its port and
// flips DNS. See runSeeds for the rest; the environment's prefix is
// SEEDS_RESTORE.
//
// SEEDS_RESTORE_MODE=restore makes understudy's arm restore mode
// (understudy-restore: a CRIU checkpoint restored, a cold start where the
// restore fails) with the lab's criu (labtest's Lab.CRIU).
func BenchmarkSeedsRestore(b *testing.B) {
	mode := cmp.Or(os.Getenv("SEEDS_RESTORE_MODE"), "cold")
	if mode != "cold" && mode != "restore" {
		b.Fatalf("SEEDS_RESTORE_MODE=%q: want cold or restore", mode)
	}
	runSeeds(b, seedsExp{env: "SEEDS_RESTORE", ours: "understudy-" + mode, oursMode: mode, base: "vm-restore", action: "restore", spare: seedsRestoreSpare})
}

// BenchmarkSeedsWarm is issue 20's experiment 2 (VCRecovery's warm
// shared standby against a dedicated warm standby VM per service), run by
// bench/seeds-warm.sh like BenchmarkSeedsRestore: arm understudy-warm,
// running containers in the shared standby (the default warm playbook);
// arm vm-warm, one running instance of the primary's image per service on
// spare-1, its exec step only the port check and the DNS flip. The
// environment's prefix is SEEDS_WARM.
func BenchmarkSeedsWarm(b *testing.B) {
	runSeeds(b, seedsExp{env: "SEEDS_WARM", ours: "understudy-warm", oursMode: "warm", base: "vm-warm", action: "warm", spare: seedsWarmSpare})
}

// runSeeds runs one experiment. Eight full-OS primaries (image
// understudy-debian, bench/seeds-image.sh) on host-a, four per arm, all
// under one monitor. The baseline's playbook is the cold default's confirm
// and fence, then an exec step running bench/seeds-vm-standby.sh, so
// detection, confirmation and fence are the same monitor steps on both
// arms; the grammar also needs an activate and a wait-healthy, so the
// baseline's services are warm in the shared standby too, and those two
// steps cost milliseconds after the flip. Each run force-stops the four
// primaries of one arm at once, then of the other (the order alternates),
// and measures the time from the injection until all four names resolve
// at BIND to a new address that answers HTTP from the recovered copy.
// ENV_RUNS runs (3) numbered from ENV_FIRST (1); each arm's figures go to
// ENV_OUT/run-N-ARM.json (default: a temporary directory). ENV_UNDERSTUDY
// is the understudy binary the exec step flips DNS with (default: built).
func runSeeds(b *testing.B, x seedsExp) {
	out := os.Getenv(x.env + "_OUT")
	if out == "" {
		out = b.TempDir()
		b.Logf("%s_OUT unset: the runs' figures go to %s", x.env, out)
	}
	runs, first := envInt(b, x.env+"_RUNS", 3), envInt(b, x.env+"_FIRST", 1)
	modes := map[string]string{}
	for _, l := range []string{"a", "b", "c", "d"} {
		modes[x.oursMode+"-"+l], modes["vm-"+l] = x.oursMode, "warm"
	}
	criu := ""
	if x.oursMode == "restore" {
		path, why := labtest.Require(b).CRIU()
		if path == "" {
			b.Skipf("restore mode: %s", why)
		}
		criu = "{path: " + path + "}"
	}
	w := newWorldImage(b, seedsPrefix, seedsBase, modes, labtest.DNSBind, seedsPool, "{containers: 20, memory: 4GiB}", seedsImage, criu)
	arms := map[string][]svc{}
	for _, s := range w.services {
		arm := x.ours
		if strings.HasPrefix(s.Name, seedsPrefix+"vm-") {
			arm = x.base
		}
		arms[arm] = append(arms[arm], s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(runs)*4*seedsBound)
	defer cancel()
	// systemd and lighttpd want more than the busybox image's 64 MiB.
	w.editInventory(func(text string) string { return strings.ReplaceAll(text, "memory: 64MiB", "memory: 256MiB") })
	sb := w.seedsBaseline(ctx, b, x, arms[x.base])
	w.seedsCoverage(b, arms[x.ours], filepath.Join(out, "coverage.json"))
	r := w.startController(monitor.Options{Logger: quietLogger(b)})
	for _, s := range w.services {
		r.waitPrepared(ctx, b, s.Name)
		if s.Mode == "warm" {
			r.waitWarmServes(ctx, b, s)
		}
	}
	order := []string{x.ours, x.base}
	for i := first; i < first+runs; i++ {
		for k, arm := range order {
			vm := arm == x.base
			res := seedsRestoreOnce(b, ctx, w, r, arms[arm], vm)
			res.Run, res.Arm, res.Order, res.Standbys = i, arm, k+1, 1
			if vm {
				res.BackupMB, res.Backup, res.Standbys = sb.mb, sb.how, sb.standbys
				if sb.perRun {
					sb.removeRestored(ctx, b)
				}
			}
			b.Logf("run %d %s: all served %.2fs, each %v, detected %v, recovery step %v", i, arm, res.AllServedS, res.ServedS, res.DetectedS, res.RecoveryS)
			data, _ := json.MarshalIndent(res, "", "  ")
			if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("run-%d-%s.json", i, arm)), data, 0o644); err != nil {
				b.Fatal(err)
			}
			if vm {
				w.seedsPointBack(ctx, b, r, arms[arm], x.spare)
			}
			seedsRestoreBack(b, ctx, w, r, arms[arm])
		}
		slices.Reverse(order)
	}
}

// waitWarmServes waits until s's running standby container answers HTTP:
// "prepared" does not say that its boot finished.
func (r *running) waitWarmServes(ctx context.Context, b *testing.B, s svc) {
	b.Helper()
	st, err := r.service(ctx, s.Name)
	if err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := waitHTTP(wctx, st.Standby.Address, s.Name); err != nil {
		b.Fatalf("the warm standby container of %s does not serve (a boot that hung? bench/seeds-image.sh raises fs.inotify.max_user_instances): %v", s.Name, err)
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
	wctx, stopWatch := context.WithTimeout(ctx, seedsBound)
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
			b.Fatalf("%s never served at a new address within %v; status %s", s.Name, seedsBound, j)
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
		if s.Mode == "restore" {
			res.Fallbacks = append(res.Fallbacks, st.LastIncident.Fallback)
		}
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
