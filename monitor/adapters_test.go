package monitor

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
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

func TestActivatorMapsAgentErrors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		err           error
		addr          string
		wantPermanent bool
		wantErr       string
	}{
		{name: "remote error without a code", err: &standby.RemoteError{Status: 409, Message: "stale"}, wantPermanent: false, wantErr: "stale"},
		{name: "stale epoch sentinel", err: standby.ErrStaleEpoch, wantPermanent: true, wantErr: "stale epoch"},
		{name: "no capacity", err: standby.ErrNoCapacity, wantPermanent: true, wantErr: "no capacity"},
		{name: "not prepared", err: standby.ErrNotFound, wantPermanent: false, wantErr: "service not found"},
		{name: "bad address", addr: "not-an-ip", wantErr: `answered address "not-an-ip"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent := newFakeAgent()
			agent.actErr, agent.actAddr = tc.err, tc.addr
			agent.prepared["web"] = standby.ServiceSpec{Name: "web"}
			c := newIdle(t, testInventory, map[string]*fakeAgent{"sb": agent})
			_, err := c.step.Activate(context.Background(), 1, "web")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to say %q", err, tc.wantErr)
			}
			if got := errors.Is(err, recover.ErrPermanent); got != tc.wantPermanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tc.wantPermanent, err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("%v does not wrap %v", err, tc.err)
			}
		})
	}
}

func TestActivatorReturnsAddressAndPhases(t *testing.T) {
	agent := newFakeAgent()
	agent.prepared["web"] = standby.ServiceSpec{Name: "web"}
	c := newIdle(t, testInventory, map[string]*fakeAgent{"sb": agent})
	act, err := c.step.Activate(context.Background(), 1, "web")
	if err != nil {
		t.Fatal(err)
	}
	if act.Address.String() != "10.9.1.10" || len(act.Phases) != 1 || act.Phases[0] != (recover.AgentPhase{Name: "running", MS: 1}) {
		t.Errorf("activation = %+v", act)
	}
	if _, err := c.step.Activate(context.Background(), 1, "nope"); !errors.Is(err, executor.ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
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
