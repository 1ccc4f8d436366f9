package probe

import (
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// TestPlanFromExampleInventories builds a plan from every example and
// checks it is valid and probes every hypervisor, VM and service.
func TestPlanFromExampleInventories(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example inventories found (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			inv, err := inventory.Load(f)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			p := PlanFromInventory(inv)
			if err := p.Validate(); err != nil {
				t.Fatalf("plan from %s is invalid: %v", f, err)
			}
			if want := inv.Monitor.HostWindow; p.Timing.HostWindow != want || want <= 0 {
				t.Errorf("host window %s, want monitor.host-window %s", p.Timing.HostWindow, want)
			}
			if want := inv.Monitor.FastInterval; p.Timing.FastInterval != want || want <= 0 {
				t.Errorf("fast interval %s, want monitor.fast-interval %s", p.Timing.FastInterval, want)
			}
			inv.Monitor.HostWindow = 0 // host-window: 0s
			if off := PlanFromInventory(inv).Timing.HostWindow; off >= 0 {
				t.Errorf("host-window 0s: plan's window %s, want negative (off)", off)
			}
			want := len(inv.Hypervisors) + 2*len(inv.VMs) + len(inv.Services)
			if got := len(p.Targets()); got != want {
				t.Errorf("%d targets, want %d (1 per hypervisor, 2 per VM, 1 per service)", got, want)
			}
			for i, s := range inv.Services {
				got := p.Services[i]
				switch {
				case s.Check.TCP != nil && got.Check != KindTCP,
					s.Check.HTTP != nil && string(got.Check) != s.Check.HTTP.Scheme:
					t.Errorf("service %s: check %q does not match the inventory's %+v", s.Name, got.Check, s.Check)
				}
				if string(got.Confirm) != s.Confirm {
					t.Errorf("service %s: confirm %q, want %q", s.Name, got.Confirm, s.Confirm)
				}
			}
		})
	}
}
