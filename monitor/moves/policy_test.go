package moves

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
)

// fakeExecutor has web on its standby and api on a spare; Due sends a
// failback for every service whose primary is known healthy, and a
// migration for db.
type fakeExecutor struct {
	mu        sync.Mutex
	facts     map[string]recover.Facts
	failbacks []string
}

func (e *fakeExecutor) Records() []recover.Record {
	return []recover.Record{{Service: "web", State: recover.OnStandby}, {Service: "api", State: recover.OnSpare}, {Service: "db", State: recover.OnStandby}}
}

func (e *fakeExecutor) Due(facts map[string]recover.Facts) map[string]recover.Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.facts = facts
	out := map[string]recover.Decision{"db": {Kind: recover.KindMigrate, Reason: "max-on-standby"}}
	for name, f := range facts {
		if !f.PrimaryHealthySince.IsZero() {
			out[name] = recover.Decision{Kind: recover.KindFailback, Reason: "primary healthy"}
		}
	}
	return out
}

func (e *fakeExecutor) Failback(_ context.Context, service string, src recover.Source, _ string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if src != recover.FromPolicy {
		return errors.New("not from the policy")
	}
	e.failbacks = append(e.failbacks, service)
	return nil
}

// fakeServices: web and api fail back automatically; api's primary fails
// its check.
type fakeServices struct {
	migrated []string
	sampled  int
}

func (s *fakeServices) Service(name string) (Service, bool) {
	return Service{AutoFailback: name != "db", Primary: netip.MustParseAddr("10.9.0.11"), Standby: "sb1", Priority: 100}, true
}

func (s *fakeServices) Check(_ context.Context, service string, _ netip.Addr) error {
	if service == "api" {
		return errors.New("connection refused")
	}
	return nil
}

func (s *fakeServices) Migrate(_ context.Context, service, _ string) (string, error) {
	s.migrated = append(s.migrated, service)
	return "spare-1", nil
}

func (s *fakeServices) SampleSpares(context.Context) { s.sampled++ }

// noOverload is a watch that never finds a standby overloaded.
type noOverload struct{ samples int }

func (o *noOverload) Sample(context.Context, time.Time) { o.samples++ }
func (o *noOverload) Overloaded() map[string]string     { return nil }
func (o *noOverload) Moved(string, string)              {}
func (o *noOverload) Shares(string) map[string]float64  { return nil }
func (o *noOverload) Forget()                           {}

// TestPolicyTick: one look checks the primaries of the services that fail
// back automatically (web passes, api fails), samples the standbys and the
// spares, and sends what is due: web's failback and db's migration, once
// (an automatic migration is not sent again within autoMigrateRetry).
func TestPolicyTick(t *testing.T) {
	exec, svcs, over := &fakeExecutor{}, &fakeServices{}, &noOverload{}
	p := New(Config{Executor: exec, Services: svcs, Overload: over})
	p.tick(t.Context())
	if _, ok := exec.facts["web"]; !ok || len(exec.facts) != 1 {
		t.Errorf("facts = %+v, want web's healthy primary only", exec.facts)
	}
	if len(exec.failbacks) != 1 || exec.failbacks[0] != "web" {
		t.Errorf("failbacks = %v, want [web]", exec.failbacks)
	}
	if len(svcs.migrated) != 1 || svcs.migrated[0] != "db" || svcs.sampled != 1 || over.samples != 1 {
		t.Errorf("migrated %v, spares sampled %d, standbys sampled %d; want [db], 1, 1", svcs.migrated, svcs.sampled, over.samples)
	}
	p.tick(t.Context())
	if len(svcs.migrated) != 1 {
		t.Errorf("db migrated again at the next look: %v", svcs.migrated)
	}
}
