package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// countingDaemon is a fakeDaemon that counts the triggers it took.
type countingDaemon struct {
	fakeDaemon
	mu       sync.Mutex
	triggers int
}

func (d *countingDaemon) Trigger(context.Context, string, recover.Source, string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.triggers++
	return nil
}

// suspect posts one proxy suspect report about web and returns whether it
// was coalesced.
func suspect(t *testing.T, s *Server) bool {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/services/web/suspect", strings.NewReader(`{"reason":"backend refused"}`))
	r.SetPathValue("name", "web")
	w := httptest.NewRecorder()
	s.PostSuspect(w, r)
	if w.Code != http.StatusAccepted {
		t.Fatalf("suspect: %d %s", w.Code, w.Body)
	}
	var resp api.TriggerResponse
	if err := json.NewDecoder(w.Body).Decode(&resp); err != nil {
		t.Fatalf("decode the answer: %v", err)
	}
	return resp.Coalesced
}

// TestSuspectWindowOnTheInjectedClock: reports about one service within
// suspectWindow of the last one the executor took are coalesced, on the
// API's clock; the first report after the window reaches the executor.
func TestSuspectWindowOnTheInjectedClock(t *testing.T) {
	clk := clocktest.NewFake()
	d := &countingDaemon{}
	s := New(Config{Incidents: d, Views: d, Leadership: d, Clock: clk})
	if suspect(t, s) {
		t.Fatal("the first report was coalesced")
	}
	clk.Advance(suspectWindow - time.Millisecond)
	if !suspect(t, s) {
		t.Fatal("a report within the window reached the executor")
	}
	clk.Advance(time.Millisecond)
	if suspect(t, s) {
		t.Fatal("the report after the window was coalesced")
	}
	if d.triggers != 2 {
		t.Errorf("executor got %d triggers, want 2", d.triggers)
	}
}
