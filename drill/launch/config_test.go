package launch

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/inventory"
)

// TestConfigForNeighbours: the drill learns the other services of the
// drilled primary's hypervisor, which a host-down fails over too and
// --restore must bring home.
func TestConfigForNeighbours(t *testing.T) {
	inv, err := inventory.Load(filepath.Join("..", "..", "examples", "realistic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFor(inv, "wiki", drill.HostDown, drill.ViaDNS, 1)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range cfg.Neighbours {
		names = append(names, n.Service)
		if !n.Primary.Address.IsValid() || n.FQDN == "" || n.Port == 0 {
			t.Errorf("neighbour %+v: want its address, FQDN and port", n)
		}
	}
	// hv-a2 runs wiki, git (with git-ssh) ci and chat.
	if got := strings.Join(names, ","); got != "git,git-ssh,ci,chat" {
		t.Errorf("neighbours of wiki: %s, want git,git-ssh,ci,chat", got)
	}
}

// TestConfigForNeighboursOnTheVM: the drill marks the neighbours on the
// drilled service's VM, which a fault of the VM takes down too.
func TestConfigForNeighboursOnTheVM(t *testing.T) {
	inv, err := inventory.Load(filepath.Join("..", "..", "examples", "realistic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFor(inv, "erp", drill.VMStop, drill.ViaDNS, 1)
	if err != nil {
		t.Fatal(err)
	}
	var same []string
	for _, n := range cfg.Neighbours {
		if n.SameVM {
			same = append(same, n.Service)
		}
	}
	// The VM erp also runs erp-reports.
	if got := strings.Join(same, ","); got != "erp-reports" {
		t.Errorf("neighbours of erp on its VM: %q, want erp-reports", got)
	}
}

// TestHostConfigFor: a host drill drills every service of the hypervisor,
// or the chosen ones, and refuses a service of another hypervisor.
func TestHostConfigFor(t *testing.T) {
	inv, err := inventory.Load(filepath.Join("..", "..", "examples", "realistic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := HostConfigFor(inv, "hv-a2", nil, drill.HostDown, drill.ViaBoth, 2)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range hc.Services {
		names = append(names, c.Service)
		if len(c.Neighbours) != 0 || c.Kind != drill.HostDown || c.Clients != 2 {
			t.Errorf("%s: neighbours %d, kind %s, clients %d; want none, host-down, 2", c.Service, len(c.Neighbours), c.Kind, c.Clients)
		}
	}
	if got := strings.Join(names, ","); got != "wiki,git,git-ssh,ci,chat" {
		t.Errorf("services of hv-a2: %s, want wiki,git,git-ssh,ci,chat", got)
	}
	hc, err = HostConfigFor(inv, "hv-a2", []string{"ci", "wiki"}, drill.HostDown, drill.ViaDNS, 1)
	if err != nil || len(hc.Services) != 2 {
		t.Fatalf("--services ci,wiki: %d services, %v; want 2", len(hc.Services), err)
	}
	for _, bad := range [][]string{{"nosuch"}} {
		if _, err := HostConfigFor(inv, "hv-a2", bad, drill.HostDown, drill.ViaDNS, 1); err == nil {
			t.Errorf("--services %v: no error", bad)
		}
	}
	if _, err := HostConfigFor(inv, "nosuch", nil, drill.HostDown, drill.ViaDNS, 1); err == nil {
		t.Error("an unknown hypervisor: no error")
	}
}
