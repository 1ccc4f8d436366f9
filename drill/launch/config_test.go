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
