package e2e

import (
	"cmp"
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
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity/coverage"
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

// seedsPointBack points the names of the vm-restore arm's services from
// the restored VMs back at their standby containers, where the monitor
// placed them (the exec step flipped DNS behind its back), so that the
// reset's compare-and-swap to the primary holds.
func (w *world) seedsPointBack(ctx context.Context, b *testing.B, r *running, services []svc, spare int) {
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
		from := netip.MustParseAddr(fmt.Sprintf(seedsSpare, spare+i))
		if err := w.dns.Replace(ctx, s.FQDN, []netip.Addr{to}, 10*time.Second, []netip.Addr{from}); err != nil {
			b.Fatalf("point %s back from %s to %s: %v", s.FQDN, from, to, err)
		}
	}
}

// seedsBaseline is the baseline arm's side: spare-1, its instances'
// names, and (restore) its backups.
type seedsBaseline struct {
	spare    *lxd.Client
	restored []string // the instances on spare-1
	perRun   bool     // restore: they are removed after each run
	standbys int      // standby VMs it keeps running: 0 (restore), 1 per service (warm)
	mb       float64
	how      string
}

// seedsBaseline prepares the baseline's side for services: with action
// restore, exports their primaries (the conventional cold standby's
// backups, taken in advance); with warm, creates and starts their
// dedicated standby instances on spare-1. It writes each service's
// playbook (confirm, fence, exec bench/seeds-vm-standby.sh, activate,
// wait-healthy) and names it in the inventory. The instances on spare-1
// are removed now and at the end.
func (w *world) seedsBaseline(ctx context.Context, b *testing.B, x seedsExp, services []svc) *seedsBaseline {
	b.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	us := seedsUnderstudy(ctx, b, x, root, w.dir)
	bash, err := exec.LookPath("bash")
	if err != nil {
		b.Fatal(err)
	}
	spare, err := lxd.Connect(ctx, lxd.Conn{Name: "spare-1", Socket: w.lab.Spare.Socket})
	if err != nil {
		b.Fatalf("connect to spare-1: %v", err)
	}
	b.Cleanup(spare.Close)
	sb := &seedsBaseline{spare: spare, perRun: x.action == "restore"}
	if !sb.perRun {
		sb.standbys = len(services)
	}
	for _, s := range services {
		sb.restored = append(sb.restored, s.VM)
	}
	sb.removeRestored(ctx, b)
	b.Cleanup(func() { sb.removeRestored(context.Background(), b) })
	backups := make([]string, len(services))
	switch x.action {
	case "restore":
		sb.how = "incus export --instance-only --compression none (the fastest import)"
		backups = w.exportAll(ctx, b, root, services)
		for _, p := range backups {
			fi, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			sb.mb = float64(fi.Size()) / (1 << 20)
		}
	default:
		for i, s := range services {
			backups[i] = "-"
			sb.startDedicated(ctx, b, s, fmt.Sprintf(seedsSpare, x.spare+i), w.lab.Spare.Gateway)
		}
	}
	for i, s := range services {
		pb := filepath.Join(w.dir, "playbook-"+s.Name+".yaml")
		argv := []string{bash, filepath.Join(root, "bench", "seeds-vm-standby.sh"), x.action, "spare-1", backups[i], s.VM,
			fmt.Sprintf(seedsSpare, x.spare+i), w.lab.Spare.Gateway, s.FQDN, s.Address, w.invPath, us}
		if err := os.WriteFile(pb, []byte(seedsBaselinePlaybook(argv)), 0o644); err != nil {
			b.Fatal(err)
		}
		w.editInventory(func(text string) string {
			return strings.Replace(text, "  - name: "+s.Name+"\n", "  - name: "+s.Name+"\n    playbook: "+pb+"\n", 1)
		})
	}
	return sb
}

// seedsUnderstudy is the understudy binary of the exec step: ENV_UNDERSTUDY,
// or one built from root into dir.
func seedsUnderstudy(ctx context.Context, b *testing.B, x seedsExp, root, dir string) string {
	b.Helper()
	if us := os.Getenv(x.env + "_UNDERSTUDY"); us != "" {
		return us
	}
	us := filepath.Join(dir, "understudy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", us, "./cmd/understudy")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build understudy for the exec step: %v: %s", err, out)
	}
	return us
}

// startDedicated creates and starts s's dedicated warm standby instance
// on spare-1 (the primary's image and name) at addr.
func (sb *seedsBaseline) startDedicated(ctx context.Context, b *testing.B, s svc, addr, gateway string) {
	b.Helper()
	spec := lxd.InstanceSpec{Name: s.VM, Image: seedsImage, Config: map[string]string{
		"environment.IPADDR": addr + "/24", "environment.GATEWAY": gateway,
	}, CPU: 1, Memory: 256 << 20}
	if _, err := sb.spare.Ensure(ctx, spec); err != nil {
		b.Fatalf("create the dedicated standby %s on spare-1: %v", s.VM, err)
	}
	if err := sb.spare.Start(ctx, s.VM); err != nil {
		b.Fatalf("start the dedicated standby %s: %v", s.VM, err)
	}
	if err := waitHTTP(ctx, addr, s.VM); err != nil {
		b.Fatalf("dedicated standby %s: %v", s.VM, err)
	}
}

// seedsBaselinePlaybook is the baseline arm's playbook: the cold
// default's confirm and fence, the recovery as an exec step, and the warm
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
// seedsExportDir, and returns the tarballs' paths.
func (w *world) exportAll(ctx context.Context, b *testing.B, root string, services []svc) []string {
	b.Helper()
	if err := os.MkdirAll(seedsExportDir, 0o755); err != nil {
		b.Fatal(err)
	}
	paths := make([]string, len(services))
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	start := time.Now()
	for i, s := range services {
		paths[i] = filepath.Join(seedsExportDir, s.VM+".tar")
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

// removeRestored deletes the baseline's instances on spare-1.
func (sb *seedsBaseline) removeRestored(ctx context.Context, b *testing.B) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, name := range sb.restored {
		if err := sb.spare.Delete(ctx, name); err != nil {
			b.Errorf("delete the restored %s on spare-1: %v", name, err)
		}
	}
}

// seedsVMMonth is the price of a VM-month the research's figure implies:
// about $15,000 a year saved for 4 standby VMs -> 1, 3 VMs for 12 months.
const seedsVMMonth = 15000.0 / 36

// seedsCoverage writes to path the standby schemes of `understudy plan`'s
// coverage report (package coverage) for services alone, priced at
// seedsVMMonth USD: how many standby VMs each scheme keeps and their cost.
func (w *world) seedsCoverage(b *testing.B, services []svc, path string) {
	b.Helper()
	inv, err := inventory.Load(w.invPath)
	if err != nil {
		b.Fatalf("load the inventory: %v", err)
	}
	keep := map[string]bool{}
	for _, s := range services {
		keep[s.Name] = true
	}
	inv.Services = slices.DeleteFunc(inv.Services, func(s inventory.Service) bool { return !keep[s.Name] })
	inv.Cost = inventory.Cost{VMMonth: seedsVMMonth, Currency: "USD"}
	rep := coverage.Compute(coverage.Input{Name: w.invPath, Inventory: inv})
	data, _ := json.MarshalIndent(map[string]any{"vm_month": seedsVMMonth, "currency": rep.Currency,
		"schemes": rep.Schemes, "research": rep.Research}, "", "  ")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
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
