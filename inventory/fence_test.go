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

// TestFenceMethod: fence-method defaults to freeze with fence: hypervisor,
// takes stop, and is refused with another fence or an unknown value, with
// the field's path.
func TestFenceMethod(t *testing.T) {
	base, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Parse("valid.yaml", base)
	if err != nil {
		t.Fatal(err)
	}
	web := inv.Service("web")
	if web.Fence != inventory.FenceHypervisor || web.FenceMethod != inventory.FenceFreeze {
		t.Fatalf("web: fence %q, fence-method %q; want hypervisor, freeze", web.Fence, web.FenceMethod)
	}
	if api := inv.Service("api"); api.FenceMethod != "" {
		t.Errorf("api (fence: command): fence-method %q, want empty", api.FenceMethod)
	}
	const fence = "    fence: command\n"
	for _, tc := range []struct{ name, old, new, want string }{
		{"stop", "", "", ""},
		{"unknown", "", "", "services[0].fence-method: invalid fence-method \"pause\""},
		{"with command", fence, fence + "    fence-method: stop\n", "services[1].fence-method: only used with fence: hypervisor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := string(base)
			switch tc.name {
			case "stop":
				doc = addToWeb(t, doc, "    fence-method: stop\n")
			case "unknown":
				doc = addToWeb(t, doc, "    fence-method: pause\n")
			default:
				doc = strings.Replace(doc, tc.old, tc.new, 1)
			}
			inv, err := inventory.Parse("valid.yaml", []byte(doc))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := inv.Service("web").FenceMethod; got != inventory.FenceStop {
					t.Errorf("fence-method = %q, want stop", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// addToWeb inserts line after the first service's name line.
func addToWeb(t *testing.T, doc, line string) string {
	t.Helper()
	const name = "  - name: web\n"
	if !strings.Contains(doc, name) {
		t.Fatalf("testdata/valid.yaml has no %q", name)
	}
	return strings.Replace(doc, name, name+line, 1)
}
