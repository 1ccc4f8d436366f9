package steps

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/understudy/understudy/monitor/plan"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/standby"
)

// fakeAgent answers Activate with act or err.
type fakeAgent struct {
	act standby.Activation
	err error
}

func (a *fakeAgent) Activate(context.Context, uint64, string) (standby.Activation, error) {
	return a.act, a.err
}
func (a *fakeAgent) Deactivate(context.Context, uint64, string) (standby.ServiceStatus, error) {
	return standby.ServiceStatus{}, a.err
}
func (a *fakeAgent) Probe(context.Context, standby.ProbeRequest) (standby.ProbeResult, error) {
	return standby.ProbeResult{}, a.err
}

// oneAgent is the agent of every standby.
type oneAgent struct{ a *fakeAgent }

func (o oneAgent) Agent(string) (Agent, error) { return o.a, nil }

// stepsFor returns the steps of web on standby sb, whose pool is
// 10.9.1.10-10.9.1.20.
func stepsFor(a *fakeAgent) *Steps {
	p := &plan.Plan{Standbys: map[string]string{"web": "sb"},
		Pools: map[string]plan.AddrRange{"sb": {First: netip.MustParseAddr("10.9.1.10"), Last: netip.MustParseAddr("10.9.1.20")}}}
	return New(Config{Plan: func() *plan.Plan { return p }, Agents: oneAgent{a}})
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
		{name: "outside the pool", addr: "10.9.1.99", wantPermanent: true, wantErr: "outside its pool 10.9.1.10-10.9.1.20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stepsFor(&fakeAgent{err: tc.err, act: standby.Activation{Address: tc.addr}}).Activate(t.Context(), 1, "web")
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
	s := stepsFor(&fakeAgent{act: standby.Activation{Address: "10.9.1.10", Restored: true, Phases: []standby.Phase{{Name: "running", MS: 0.6}}}})
	act, err := s.Activate(t.Context(), 1, "web")
	if err != nil {
		t.Fatal(err)
	}
	if act.Address.String() != "10.9.1.10" || !act.Restored || len(act.Phases) != 1 || act.Phases[0] != (recover.AgentPhase{Name: "running", MS: 1}) {
		t.Errorf("activation = %+v", act)
	}
	if _, err := s.Activate(t.Context(), 1, "nope"); !errors.Is(err, executor.ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
}
