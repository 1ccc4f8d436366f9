package inventory_test

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
)

// loadMoveDoc is minimal with a standby's own load trigger, a pinned
// service with drain and undrain hooks.
const loadMoveDoc = `
dns: {server: ns.example.com, zone: Example.COM, tsig-key-file: /k}
hypervisors: [{name: h, address: "::1", incus: {socket: /s}}]
vms: [{name: v, hypervisor: h, address: 10.0.0.1}]
standby:
  - name: s
    agent: "https://10.0.0.2:9443"
    capacity: {containers: 2, memory: 1Gi}
    overload: {trigger: load, cpu: 70, window: 30s}
migration:
  overload: {steal: 20, cool-down: 1m}
  target-max-steal: 4
services:
  - name: web
    fqdn: www.example.com
    vm: v
    port: 80
    check: {http: {}}
    standby: s
    container: {image: i, limits: {memory: 1G}}
    pinned: true
    drain: {url: "http://127.0.0.1:8500/drain"}
    undrain: {command: [/usr/local/bin/undrain, web]}
`

// TestStandbyOverload: a standby's own trigger takes migration.overload's
// value for every key it leaves out; pinned, drain, undrain and the steal
// ceiling are read.
func TestStandbyOverload(t *testing.T) {
	inv, err := inventory.Parse("lm.yaml", []byte(loadMoveDoc))
	if err != nil {
		t.Fatal(err)
	}
	got := inv.OverloadOf("s")
	want := inventory.Overload{Enabled: true, Trigger: inventory.TriggerLoad, Steal: 20, Load: inventory.DefaultOverloadLoad,
		CPU: 70, Memory: inventory.DefaultOverloadMemory, Hysteresis: inventory.DefaultOverloadHysteresis,
		Window: 30 * time.Second, CoolDown: time.Minute}
	if got != want {
		t.Errorf("OverloadOf(s) = %+v, want %+v", got, want)
	}
	if g := inv.OverloadOf("other"); g.Trigger != inventory.TriggerStealAndLoad || g.Window != inventory.DefaultOverloadWindow {
		t.Errorf("OverloadOf(unknown) = %+v, want migration.overload", g)
	}
	s := inv.Service("web")
	if !s.Pinned || s.Drain == nil || s.Drain.URL != "http://127.0.0.1:8500/drain" || s.Undrain == nil || len(s.Undrain.Command) != 2 {
		t.Errorf("web = pinned %v drain %+v undrain %+v", s.Pinned, s.Drain, s.Undrain)
	}
	if inv.Migration.TargetMaxSteal != 4 {
		t.Errorf("target-max-steal = %v", inv.Migration.TargetMaxSteal)
	}
}

// TestOverloadErrors: a bad trigger, threshold or hook is an error at its
// position, all at once.
func TestOverloadErrors(t *testing.T) {
	doc := strings.NewReplacer(
		"trigger: load, cpu: 70", "trigger: busy, cpu: 170",
		"cool-down: 1m", "cool-down: 1m, hysteresis: 1.5",
		`drain: {url: "http://127.0.0.1:8500/drain"}`, `drain: {url: "http://x/", command: [a]}`,
		"undrain: {command: [/usr/local/bin/undrain, web]}", "undrain: {}",
	).Replace(loadMoveDoc)
	_, err := inventory.Parse("lm.yaml", []byte(doc))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`lm.yaml:9:25: standby[0].overload.trigger: invalid overload trigger "busy"`,
		"standby[0].overload.cpu: must be above 0 and at most 100",
		"migration.overload.hysteresis: must be above 0 and below 1",
		"services[0].drain: set url or command, not both",
		"services[0].undrain: set url or command",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
