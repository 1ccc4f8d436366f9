package monitor

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby"
)

// newIdle returns a controller that is not running, with agents by standby name.
func newIdle(t *testing.T, text string, agents map[string]*fakeAgent) *Controller {
	t.Helper()
	inv, err := parseInventory(text)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(inv, Options{
		Logger: slog.New(slog.DiscardHandler), DNS: &fakeDNS{records: map[string][]netip.Addr{}},
		Agents: func(sb inventory.Standby, _ TLSFiles) (Agent, error) { return agents[sb.Name], nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfirmerRunsTheHTTPCheckOfAnHTTPService(t *testing.T) {
	agent := newFakeAgent()
	c := newIdle(t, testInventory, map[string]*fakeAgent{"sb": agent})
	svc := c.plan().Services["web"].Service
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, _, err := c.step.ConfirmDown(ctx, svc); err != nil {
		t.Fatal(err)
	}
	_, _, probes := agent.snapshot()
	if len(probes) != 1 || probes[0].Kind != standby.ProbeHTTP || probes[0].Path != "/" || probes[0].ExpectStatus != 200 {
		t.Errorf("probes = %+v, want one HTTP probe of / expecting 200", probes)
	}
}

func TestConfirmerAsksTheAgentUnlessTheMonitorJustDid(t *testing.T) {
	agent := newFakeAgent()
	c := newIdle(t, testInventory, map[string]*fakeAgent{"sb": agent})
	svc := c.plan().Services["api"].Service
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	down, detail, err := c.step.ConfirmDown(ctx, svc)
	if err != nil || !down || !strings.Contains(detail, "cannot reach 10.9.0.12:8080 by tcp") {
		t.Errorf("unreachable primary: down=%v %q %v", down, detail, err)
	}
	_, _, probes := agent.snapshot()
	if len(probes) != 1 || probes[0].Kind != standby.ProbeTCP || probes[0].Port != 8080 || probes[0].TimeoutMS <= 0 || probes[0].TimeoutMS > 750 {
		t.Errorf("probes = %+v, want one TCP probe of port 8080 within the step's deadline", probes)
	}

	agent.setReachable("10.9.0.12", true)
	if down, _, err := c.step.ConfirmDown(ctx, svc); err != nil || down {
		t.Errorf("reachable primary: down=%v %v", down, err)
	}

	c.rememberConfirmation("api", time.Now())
	down, detail, err = c.step.ConfirmDown(ctx, svc)
	if err != nil || !down || !strings.Contains(detail, "monitor's agent confirmation") {
		t.Errorf("after the monitor confirmed: down=%v %q %v", down, detail, err)
	}
	if _, _, probes := agent.snapshot(); len(probes) != 2 {
		t.Errorf("the agent was asked again: %d probes", len(probes))
	}
	c.forgetConfirmations([]string{"api"})
	if _, ok := c.confirmedAt("api"); ok {
		t.Error("a forgotten confirmation still counts")
	}
	c.rememberConfirmation("api", time.Now().Add(-time.Hour))
	if _, ok := c.confirmedAt("api"); ok {
		t.Error("an hour-old confirmation still counts")
	}
}

func TestMonitorConfirmerAsksTheStandbyOfTheVM(t *testing.T) {
	two := strings.Replace(testInventory, "standby:\n", "standby:\n  - {name: sb2, agent: https://127.0.0.1:2, zone: az1, capacity: {containers: 20, memory: 4GiB}}\n", 1)
	two = strings.Replace(two, "    port: 8080\n    check: {tcp: {}}\n    standby: sb", "    port: 8080\n    check: {tcp: {}}\n    standby: sb2", 1)
	sb, sb2 := newFakeAgent(), newFakeAgent()
	c := newIdle(t, two, map[string]*fakeAgent{"sb": sb, "sb2": sb2})
	mc := c.super.Confirmer()
	if _, err := mc.Probe(context.Background(), monitorProbe("10.9.0.12")); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Probe(context.Background(), monitorProbe("10.9.0.11")); err != nil {
		t.Fatal(err)
	}
	_, _, p1 := sb.snapshot()
	_, _, p2 := sb2.snapshot()
	if len(p1) != 1 || p1[0].Address != "10.9.0.11" || len(p2) != 1 || p2[0].Address != "10.9.0.12" {
		t.Errorf("sb probed %+v, sb2 probed %+v", p1, p2)
	}
}
