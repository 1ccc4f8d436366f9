package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/understudy/understudy/monitor/api"
)

// fakeMonitor answers status, migrate and failback like the monitor: web is
// on the standby; a migration ends on spare-1 and a failback on the primary
// at once; api is on its primary and refuses both.
type fakeMonitor struct {
	mu    sync.Mutex
	web   api.ServiceStatus
	posts []string
}

func newFakeMonitor() *fakeMonitor {
	return &fakeMonitor{web: api.ServiceStatus{Service: "web", State: "on-standby", Where: "standby", Host: "standby-1",
		Address: "10.200.1.100", LastIncident: &api.IncidentStatus{ID: "web-1", Result: "recovered"}}}
}

func (f *fakeMonitor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost {
		f.posts = append(f.posts, r.URL.Path+" "+string(body))
	}
	candidates := []api.Candidate{
		{Name: "spare-1", Zone: "az1", Steal: 2.4, Load1: 0.31, FreeSlots: 3, Eligible: true, Rank: 1, Reasons: []string{"chosen: no role"}},
		{Name: "spare-2", Zone: "az2", FreeSlots: 1, Unmeasured: "no spares[].agent", Reasons: []string{`lost: other zone "az2"`}},
	}
	switch r.URL.Path {
	case "/v1/status":
		_ = json.NewEncoder(w).Encode(api.Status{Services: []api.ServiceStatus{
			{Service: "api", State: "primary", Where: "primary", Host: "api-vm"}, f.web}})
	case "/v1/services/web/migrate":
		var req api.MigrateRequest
		_ = json.Unmarshal(body, &req)
		res := api.MigrateResponse{Service: "web", DryRun: req.DryRun, Candidates: candidates}
		switch {
		case req.DryRun:
			writeTestJSON(w, http.StatusOK, res)
		case req.To == "spare-2":
			res.Error = `migrate "web" to "spare-2": no eligible spare`
			writeTestJSON(w, http.StatusConflict, res)
		default:
			res.To = "spare-1"
			f.web = api.ServiceStatus{Service: "web", State: "on-spare", Where: "spare", Host: "spare-1", Address: "10.200.2.100",
				LastIncident: &api.IncidentStatus{ID: "web-2", Result: "migrated", TotalMS: 1300}}
			writeTestJSON(w, http.StatusAccepted, res)
		}
	case "/v1/services/web/failback":
		f.web = api.ServiceStatus{Service: "web", State: "primary", Where: "primary", Host: "web-vm", Address: "10.200.0.11",
			LastIncident: &api.IncidentStatus{ID: "web-3", Result: "failed-back", TotalMS: 700}}
		writeTestJSON(w, http.StatusAccepted, map[string]string{"service": "web", "state": "failing-back"})
	case "/v1/services/api/migrate", "/v1/services/api/failback":
		writeTestJSON(w, http.StatusConflict, map[string]string{"error": "illegal transition", "state": "primary"})
	default:
		writeTestJSON(w, http.StatusNotFound, map[string]string{"error": "unknown service"})
	}
}

func writeTestJSON(w http.ResponseWriter, code int, v any) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// exitCode is what run makes of a subcommand's error.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

func TestMigrateAndFailbackCommands(t *testing.T) {
	type cmdFunc = func(context.Context, []string, io.Writer, io.Writer) error
	for _, tc := range []struct {
		name     string
		run      cmdFunc
		args     []string
		wantCode int
		want     []string // substrings of stdout
		wantErr  string   // substring of the error or stderr
		wantPost string   // prefix of the one POST the monitor got; "" none
	}{
		{name: "dry run", run: runMigrate, args: []string{"--service", "web", "--dry-run"},
			want: []string{"RANK  SPARE    ZONE  ROLES  STEAL  LOAD/CPU", "1     spare-1  az1   -      2.4%   0.31  ",
				"-     spare-2  az2   -      ?      ?     ", `lost: other zone "az2"`},
			wantPost: `/v1/services/web/migrate {"dry_run":true}`},
		{name: "migrate", run: runMigrate, args: []string{"--service", "web", "--reason", "drill"},
			want:     []string{"migrating web to spare-1", "web: migrated in 1300 ms; now on-spare on spare/spare-1 at 10.200.2.100"},
			wantPost: `/v1/services/web/migrate {"reason":"drill"}`},
		{name: "migrate to another zone", run: runMigrate, args: []string{"--service", "web", "--to", "spare-2"},
			wantCode: exitRefused, wantErr: "no eligible spare", wantPost: "/v1/services/web/migrate"},
		{name: "migrate from the primary", run: runMigrate, args: []string{"--service", "api"},
			wantCode: exitRefused, wantErr: "illegal transition", wantPost: "/v1/services/api/migrate"},
		{name: "unknown service", run: runMigrate, args: []string{"--service", "nope"},
			wantCode: exitRefused, wantErr: "unknown service", wantPost: "/v1/services/nope/migrate"},
		{name: "migrate without --service", run: runMigrate, wantCode: 2, wantErr: "usage: understudy migrate"},
		{name: "failback", run: runFailback, args: []string{"--service", "web"},
			want: []string{"failing back web", "web: failed-back in 700 ms; now primary on primary/web-vm"}, wantPost: "/v1/services/web/failback"},
		{name: "failback from the primary", run: runFailback, args: []string{"--service", "api"},
			wantCode: exitRefused, wantErr: "illegal transition (state primary)", wantPost: "/v1/services/api/failback"},
		{name: "failback without --service", run: runFailback, wantCode: 2, wantErr: "usage: understudy failback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mon := newFakeMonitor()
			srv := httptest.NewServer(mon)
			defer srv.Close()
			var stdout, stderr bytes.Buffer
			err := tc.run(context.Background(), append([]string{"--url", srv.URL}, tc.args...), &stdout, &stderr)
			if code := exitCode(err); code != tc.wantCode {
				t.Fatalf("exit %d (%v), want %d; stderr %q", code, err, tc.wantCode, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			got := stderr.String()
			if err != nil {
				got += err.Error()
			}
			if !strings.Contains(got, tc.wantErr) {
				t.Errorf("error and stderr %q lack %q", got, tc.wantErr)
			}
			mon.mu.Lock()
			defer mon.mu.Unlock()
			switch {
			case tc.wantPost == "" && len(mon.posts) != 0:
				t.Errorf("posted %q, want nothing", mon.posts)
			case tc.wantPost != "" && (len(mon.posts) != 1 || !strings.HasPrefix(mon.posts[0], tc.wantPost)):
				t.Errorf("posted %q, want one starting %q", mon.posts, tc.wantPost)
			}
		})
	}
}

func TestMigrateNoMonitor(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runMigrate(context.Background(), []string{"--url", "http://127.0.0.1:1", "--service", "web"}, &stdout, &stderr)
	if code := exitCode(err); code != exitFailed || !strings.Contains(err.Error(), "is `understudy monitor` running?") {
		t.Errorf("exit %d, err %v; want 1 and a hint", code, err)
	}
}
