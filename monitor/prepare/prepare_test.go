package prepare

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// fakeAgent records the specs it was asked to prepare; a service in fail
// fails.
type fakeAgent struct {
	mu       sync.Mutex
	prepared []standby.ServiceSpec
	fail     map[string]bool
	err      error // what a failing prepare returns (default: "agent says no")
}

func (a *fakeAgent) Prepare(_ context.Context, _ uint64, spec standby.ServiceSpec) (standby.ServiceStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.prepared = append(a.prepared, spec)
	if a.fail[spec.Name] {
		if a.err != nil {
			return standby.ServiceStatus{}, a.err
		}
		return standby.ServiceStatus{}, errors.New("agent says no")
	}
	return standby.ServiceStatus{Address: "10.9.1.5"}, nil
}

func (a *fakeAgent) Agent(string) (Agent, error) { return a, nil }

// fakeServices are three services: web and db on their primaries, api on
// its standby.
type fakeServices struct{}

func (fakeServices) Specs() map[string]Spec {
	out := map[string]Spec{}
	for _, n := range []string{"web", "api", "db"} {
		out[n] = Spec{Standby: "sb1", Spec: standby.ServiceSpec{Name: n, Image: "busybox"}}
	}
	return out
}

func (fakeServices) Records() []recover.Record {
	return []recover.Record{{Service: "web", State: recover.Primary}, {Service: "api", State: recover.OnStandby}, {Service: "db", State: recover.Primary}}
}

// TestPreparePass: a pass prepares the services on their primaries under
// the term's epoch, leaves the one on its standby alone (saying why), and
// keeps a failure with a retry time; a second pass asks only for what is
// due again.
func TestPreparePass(t *testing.T) {
	agent := &fakeAgent{fail: map[string]bool{"db": true}}
	p := New(Config{Services: fakeServices{}, Agents: agent, Epoch: 7})
	next := p.pass(t.Context())
	if st := p.Get("web"); !st.OK || st.Address != "10.9.1.5" || st.spec.Epoch != 7 {
		t.Errorf("web = %+v, want prepared under epoch 7", st)
	}
	if st := p.Get("api"); st.OK || st.Skipped == "" {
		t.Errorf("api = %+v, want skipped with a note", st)
	}
	st := p.Get("db")
	if st.OK || st.Err != "agent says no" || next.IsZero() || !next.Equal(st.retryAt) {
		t.Errorf("db = %+v (next %v), want the error and its retry time", st, next)
	}
	p.pass(t.Context())
	if len(agent.prepared) != 2 {
		t.Errorf("prepared %d specs after two passes, want 2 (web once, db once: its retry is not due)", len(agent.prepared))
	}
	if st := (*Preparer)(nil).Get("web"); st.Skipped == "" {
		t.Error("a follower's (nil) preparer does not say who prepares")
	}
}
