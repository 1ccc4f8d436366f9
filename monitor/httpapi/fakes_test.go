package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// errFakeIdle is what a fakeDaemon built with it answers every call with:
// a daemon that is not running yet.
var errFakeIdle = errors.New("controller is not running")

// fakeDaemon is the daemon as the API sees it: every service is known, a
// call answers err, and this monitor leads.
type fakeDaemon struct{ err error }

var (
	_ Incidents  = (*fakeDaemon)(nil)
	_ Views      = (*fakeDaemon)(nil)
	_ Leadership = (*fakeDaemon)(nil)
)

func (f *fakeDaemon) Known(string) bool { return true }
func (f *fakeDaemon) Trigger(context.Context, string, recover.Source, string) error {
	return f.err
}
func (f *fakeDaemon) Reset(context.Context, string, string) error    { return f.err }
func (f *fakeDaemon) Failback(context.Context, string, string) error { return f.err }
func (f *fakeDaemon) Migrate(_ context.Context, name string, req api.MigrateRequest) (api.MigrateResponse, error) {
	return api.MigrateResponse{Service: name, DryRun: req.DryRun, Candidates: []api.Candidate{}}, f.err
}
func (f *fakeDaemon) State(string) string               { return "primary" }
func (f *fakeDaemon) Health() api.Health                { return api.Health{OK: true} }
func (f *fakeDaemon) Status(context.Context) api.Status { return api.Status{} }
func (f *fakeDaemon) LeaderStatus(context.Context) (api.Status, error) {
	return api.Status{}, ErrNoLeader
}
func (f *fakeDaemon) Placements(context.Context, bool) ([]recover.Placement, <-chan recover.Placement, error) {
	return nil, nil, f.err
}
func (f *fakeDaemon) AwaitRole(context.Context) (*ha.Leader, error) { return nil, nil }
func (f *fakeDaemon) Leading() bool                                 { return true }
func (f *fakeDaemon) KeepSuspect(string, string)                    {}

// TestAnswerMapsResetEnds: a reset that ended stuck is a 409, one whose
// executor stopped under it (the term ended) or whose save was fenced a 503.
func TestAnswerMapsResetEnds(t *testing.T) {
	s := New(Config{Incidents: &fakeDaemon{}, Views: &fakeDaemon{}, Leadership: &fakeDaemon{}})
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("reset %q: %w: dns-replace failed", "web", executor.ErrStuck), http.StatusConflict},
		{fmt.Errorf("service %q: still failing-back: %w", "web", executor.ErrStopped), http.StatusServiceUnavailable},
		{fmt.Errorf("service %q: still failing-back: %w", "web", store.ErrFenced), http.StatusServiceUnavailable},
		{fmt.Errorf("term ended: %w", ErrNoLeader), http.StatusServiceUnavailable},
		{fmt.Errorf("service %q: %w", "nope", executor.ErrUnknownService), http.StatusNotFound},
	} {
		w := httptest.NewRecorder()
		s.answer(w, "web", "", tc.err)
		if w.Code != tc.want {
			t.Errorf("answer(%v) = %d, want %d", tc.err, w.Code, tc.want)
		}
	}
}
