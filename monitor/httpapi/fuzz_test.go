package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// FuzzAPIBody feeds arbitrary bodies to the handlers of the API's mutating
// endpoints (failover, reset, failback: {"reason"}; migrate: {"to",
// "dry_run", "reason"}) on a daemon whose every call fails at once, so
// that every call ends right after the body is decoded. A handler must never
// panic, must answer JSON, and must answer 400 with an error for a body that
// does not decode as its request type.
func FuzzAPIBody(f *testing.F) {
	s := New(Config{Incidents: &fakeDaemon{err: errFakeIdle}, Views: &fakeDaemon{}, Leadership: &fakeDaemon{}, Logger: slog.New(slog.DiscardHandler)})
	endpoints := []struct {
		action string
		h      http.HandlerFunc
		req    func() any
	}{
		{"failover", s.postTrigger(recover.FromCLI), func() any { return new(api.TriggerRequest) }},
		{"reset", s.PostAction("", "reset by an operator", time.Second, s.cfg.Incidents.Reset), func() any { return new(api.TriggerRequest) }},
		{"failback", s.PostAction(string(recover.FromCLI), "failback request", time.Second, s.cfg.Incidents.Failback), func() any { return new(api.TriggerRequest) }},
		{"migrate", s.PostMigrate, func() any { return new(api.MigrateRequest) }},
	}
	f.Add(uint8(0), []byte(`{"reason":"operator: web-vm is being rebuilt"}`))
	f.Add(uint8(1), []byte(``))
	f.Add(uint8(2), []byte(`{"reason":7}`))
	f.Add(uint8(3), []byte(`{"to":"spare-1","dry_run":true,"reason":"make room"}`))
	f.Add(uint8(3), []byte(`{"dryrun":true}`))
	f.Add(uint8(3), []byte(`{"to":"spare-1"} trailing`))
	f.Add(uint8(0), []byte("{\"reason\":\"\\ud800\"}"))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := endpoints[int(which)%len(endpoints)]
		r := httptest.NewRequest(http.MethodPost, "/v1/services/web/"+ep.action, bytes.NewReader(body))
		r.SetPathValue("name", "web")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		ep.h(w, r)
		var answer api.Error
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s %q: HTTP %d answer %q is not JSON: %v", ep.action, body, w.Code, w.Body.Bytes(), err)
		}
		if w.Code == http.StatusBadRequest && answer.Error == "" {
			t.Fatalf("%s %q: 400 without an error", ep.action, body)
		}
		if len(body) == 0 || len(body) > 64<<10 {
			return // empty: the defaults; longer: cut at the limit before decoding
		}
		if json.Unmarshal(body, ep.req()) != nil && w.Code != http.StatusBadRequest {
			t.Fatalf("%s %q does not decode, answered HTTP %d %q", ep.action, body, w.Code, w.Body.Bytes())
		}
	})
}
