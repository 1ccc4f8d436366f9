package e2e

import (
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/capacity/coverage"
)

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
