package plan

import (
	"net/netip"
	"testing"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/standby"
)

const testInventory = `dns: {server: 127.0.0.1:5353, zone: lab.test., tsig-key-file: /nonexistent/tsig.key, ttl: 10s}
monitor: {listen: 127.0.0.1:9180, state-dir: /nonexistent/state, interval: 20ms, timeout: 10ms, fails: 2, passes: 1}
hypervisors:
  - {name: host-a, address: 10.9.0.1, zone: az1, incus: {socket: /nonexistent/unix.socket}}
vms:
  - {name: web-vm, hypervisor: host-a, address: 10.9.0.11}
standby:
  - {name: sb, agent: https://127.0.0.1:1, zone: az1, capacity: {containers: 20, memory: 4GiB}, network: {gateway: 10.9.1.1, prefix-len: 24, pool: 10.9.1.100-10.9.1.120}}
services:
  - name: web
    fqdn: web.lab.test.
    vm: web-vm
    port: 80
    check: {http: {path: /health, expect-status: 204}}
    standby: sb
    mode: warm
    failback: auto
    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}
`

// TestBuild: the plan of an inventory has recover's view of each service,
// the agent's spec, the check as a probe target, the standby and its pool.
func TestBuild(t *testing.T) {
	inv, err := inventory.Parse("test.yaml", []byte(testInventory))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(inv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Services["web"]
	if cfg.Service.Address != netip.MustParseAddr("10.9.0.11") || cfg.Service.Instance != "web-vm" || !cfg.Moves.AutoFailback {
		t.Errorf("recover config = %+v", cfg)
	}
	if spec := p.Specs["web"]; spec.Image != "busybox" || spec.Mode != standby.Mode("warm") || spec.Port != 80 {
		t.Errorf("agent spec = %+v", spec)
	}
	if c := p.Checks["web"]; c.Kind != probe.KindHTTP || c.Path != "/health" || c.ExpectStatus != 204 || c.Address != "" {
		t.Errorf("check = %+v", c)
	}
	if p.Standbys["web"] != "sb" || p.ByVM["10.9.0.11"] != "sb" {
		t.Errorf("standbys %v, by VM %v", p.Standbys, p.ByVM)
	}
	pool := p.Pools["sb"]
	if !pool.Contains(netip.MustParseAddr("10.9.1.110")) || pool.Contains(netip.MustParseAddr("10.9.1.121")) || pool.String() != "10.9.1.100-10.9.1.120" {
		t.Errorf("pool = %v", pool)
	}
}
