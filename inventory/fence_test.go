package inventory_test

import (
	"os"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// TestDefaultFenceRequired: fence-required defaults to true for stateful
// services (a data disk, or stateful: true) and to false for stateless ones;
// a written value wins. A stateful service with fence: none must say
// fence-required: false out loud.
func TestDefaultFenceRequired(t *testing.T) {
	base, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const disk = "      data-disk: {source: /srv/api, path: /data}\n"
	const fence = "    fence: command\n"
	for _, tc := range []struct {
		name     string
		old, new string
		want     bool
	}{
		{"data disk, not written", "", "", true},
		{"stateless, not written", disk, "", false},
		{"stateful: true without a data disk", disk, "", true},
		{"data disk, written false", fence, fence + "    fence-required: false\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := string(base)
			if tc.old != "" {
				doc = strings.Replace(doc, tc.old, tc.new, 1)
			}
			if strings.HasPrefix(tc.name, "stateful: true") {
				doc = strings.Replace(doc, fence, fence+"    stateful: true\n", 1)
			}
			inv, err := inventory.Parse("valid.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			api := inv.Service("api")
			if api.FenceRequired != tc.want {
				t.Errorf("fence-required = %v, want %v (stateful %v)", api.FenceRequired, tc.want, api.IsStateful())
			}
			if web := inv.Service("web"); !web.FenceRequired {
				t.Error("web's written fence-required: true was lost")
			}
		})
	}
	doc := strings.Replace(string(base), fence+"    fence-command: [/bin/true, api-vm]\n", "    fence: none\n", 1)
	_, err = inventory.Parse("valid.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "services[1].fence: a stateful service (data-disk or stateful: true) fails over fenced") {
		t.Errorf("data disk with fence: none: err = %v, want an error at services[1].fence", err)
	}
	doc = strings.Replace(doc, "    fence: none\n", "    fence: none\n    fence-required: false\n", 1)
	if _, err := inventory.Parse("valid.yaml", []byte(doc)); err != nil {
		t.Errorf("data disk with fence: none and fence-required: false written out: %v", err)
	}
}

// TestStandbyNetwork: a standby's optional network (the agent's pool) is
// read and checked like a spare's.
func TestStandbyNetwork(t *testing.T) {
	base, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	with := func(pool string) []byte {
		return []byte(strings.Replace(string(base), "    capacity: {containers: 2, memory: 512MiB}\n",
			"    capacity: {containers: 2, memory: 512MiB}\n    network: {gateway: 10.200.1.1, prefix-len: 24, pool: "+pool+"}\n", 1))
	}
	inv, err := inventory.Parse("valid.yaml", with("10.200.1.100-10.200.1.129"))
	if err != nil {
		t.Fatal(err)
	}
	if n := inv.Standby[0].Network; n == nil || n.Pool != "10.200.1.100-10.200.1.129" {
		t.Errorf("standby network = %+v", n)
	}
	_, err = inventory.Parse("valid.yaml", with("10.200.2.100-10.200.2.129"))
	if err == nil || !strings.Contains(err.Error(), "standby[0].network.pool: 10.200.2.100-10.200.2.129 is not inside 10.200.1.0/24") {
		t.Errorf("pool outside the subnet: %v", err)
	}
}
