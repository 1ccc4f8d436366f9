package moves

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
)

// dueExecutor has light and heavy on standby sb and decides with
// recover.Due, as the real executor does.
type dueExecutor struct{ fakeExecutor }

func (e *dueExecutor) Records() []recover.Record {
	return []recover.Record{{Service: "light", State: recover.OnStandby}, {Service: "heavy", State: recover.OnStandby}}
}

func (e *dueExecutor) Due(facts map[string]recover.Facts) map[string]recover.Decision {
	out := map[string]recover.Decision{}
	for _, r := range e.Records() {
		if d := recover.Due(r, recover.MovePolicy{}, facts[r.Service], time.Now()); d.Kind != "" {
			out[r.Service] = d
		}
	}
	return out
}

// sbServices: light and heavy fail over to sb, priority 100 both.
type sbServices struct {
	reasons map[string]string
}

func (s *sbServices) Service(string) (Service, bool) {
	return Service{Primary: netip.MustParseAddr("10.9.0.11"), Standby: "sb", Priority: 100}, true
}
func (s *sbServices) Check(context.Context, string, netip.Addr) error { return nil }
func (s *sbServices) Migrate(_ context.Context, service, reason string) (string, error) {
	s.reasons[service] = reason
	return "spare-1", nil
}
func (s *sbServices) SampleSpares(context.Context) {}

// hotStandby is sb overloaded by its load trigger, heavy carrying 62 % of it.
type hotStandby struct {
	noOverload
	moved []string
}

func (o *hotStandby) Overloaded() map[string]string {
	return map[string]string{"sb": "CPU 92 % over 60 s (threshold 80 %)"}
}
func (o *hotStandby) Shares(string) map[string]float64 {
	return map[string]float64{"heavy": 62, "light": 38}
}
func (o *hotStandby) Moved(standby, service string) { o.moved = append(o.moved, standby+"/"+service) }

// TestPolicyMovesTheHeaviestOffAnOverloadedStandby: the service carrying
// the most of an overloaded standby's load is migrated, with the reason
// the incident records; the watch hears which standby and service.
func TestPolicyMovesTheHeaviestOffAnOverloadedStandby(t *testing.T) {
	svcs, over := &sbServices{reasons: map[string]string{}}, &hotStandby{}
	p := New(Config{Executor: &dueExecutor{}, Services: svcs, Overload: over})
	p.tick(t.Context())
	why, ok := svcs.reasons["heavy"]
	if !ok || len(svcs.reasons) != 1 {
		t.Fatalf("migrated %v, want heavy alone", svcs.reasons)
	}
	if want := "standby overloaded: sb CPU 92 % over 60 s (threshold 80 %); moved heavy (62 % of it)"; why != want {
		t.Errorf("reason = %q, want %q", why, want)
	}
	if len(over.moved) != 1 || over.moved[0] != "sb/heavy" {
		t.Errorf("Moved calls = %v, want [sb/heavy]", over.moved)
	}
	if !strings.HasPrefix(why, "standby overloaded") {
		t.Error("not an overload move")
	}
}
