package inventory_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// TestExamplesValidate loads every inventory in examples/ (and the lab's
// generated examples/lab/lab.yaml when the lab was brought up) with Load, so
// the TSIG key files they name must exist too.
func TestExamplesValidate(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no inventories in examples/")
	}
	lab := "../examples/lab/lab.yaml"
	if _, err := os.Stat(lab); err == nil {
		files = append(files, lab)
	} else {
		t.Logf("%s not checked: %v (it is written by examples/lab/lab.sh up)", lab, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			inv, err := inventory.Load(f)
			if err != nil {
				t.Fatalf("%s does not validate:\n%v", f, err)
			}
			if len(inv.Services) == 0 {
				t.Errorf("%s protects no service", f)
			}
			t.Logf("%s: %s", f, inv.Summary())
		})
	}
}

// TestRealisticExampleShape holds examples/realistic.yaml to what the issue asks of it.
func TestRealisticExampleShape(t *testing.T) {
	inv, err := inventory.Load("../examples/realistic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	zones := map[string]bool{}
	for _, h := range inv.Hypervisors {
		zones[h.Zone] = true
	}
	modes := map[inventory.Mode]int{}
	for _, s := range inv.Services {
		modes[s.Mode]++
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"hypervisors", len(inv.Hypervisors), 3},
		{"zones", len(zones), 2},
		{"VMs", len(inv.VMs), 12},
		{"services", len(inv.Services), 20},
		{"standby VMs", len(inv.Standby), 2},
		{"spares", len(inv.Spares), 3},
	} {
		if c.got != c.want {
			t.Errorf("%d %s, want %d", c.got, c.what, c.want)
		}
	}
	if modes[inventory.ModeWarm] == 0 || modes[inventory.ModeCold] == 0 {
		t.Errorf("modes %v: want warm and cold services", modes)
	}
}
