package executor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

func TestWebhookPostsIncident(t *testing.T) {
	var got Notification
	var key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Get("Idempotency-Key")
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Error(err)
		}
		if r.URL.Query().Get("token") != "s3cret" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	n := Notification{Event: "incident", Service: "web", Key: "web-1/5/1", Incident: &recover.Incident{ID: "web-1"}}
	if err := (&Webhook{}).Notify(context.Background(), srv.URL+"/hook?token=s3cret", n); err != nil {
		t.Fatal(err)
	}
	if got.Incident == nil || got.Incident.ID != "web-1" || key != "web-1/5/1" {
		t.Errorf("server got %+v key %q", got, key)
	}
	err := (&Webhook{}).Notify(context.Background(), srv.URL+"/hook?token=wrong", n)
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %v: want the status and no token", err)
	}
}

func TestCommandEnvironmentAndExitStatus(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	err := Command{}.Exec(context.Background(), []string{"sh", "-c", `echo "$UNDERSTUDY_INCIDENT $UNDERSTUDY_TO" > "$1"`, "sh", out},
		[]string{"UNDERSTUDY_INCIDENT=web-1", "UNDERSTUDY_TO=10.200.1.100"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || strings.TrimSpace(string(b)) != "web-1 10.200.1.100" {
		t.Errorf("hook wrote %q, %v", b, err)
	}
	err = Command{}.Exec(context.Background(), []string{"sh", "-c", "echo fence failed >&2; exit 3"}, nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "fence failed") {
		t.Errorf("error %v: want the exit status and the output", err)
	}
}

func TestNotificationsCarryNoWebhookURLs(t *testing.T) {
	pb := &playbooks.Playbook{Name: "warm", Steps: []playbooks.Step{
		{Kind: playbooks.Notify, URL: "https://hooks.example/T0KEN"}, {Kind: playbooks.Activate},
	}}
	inc := &recover.Incident{ID: "web-1", Playbook: pb}
	got := withoutURLs(inc)
	if got.Playbook.Steps[0].URL != "(redacted)" || got.Playbook.Steps[1].URL != "" {
		t.Errorf("steps after redaction: %+v", got.Playbook.Steps)
	}
	if pb.Steps[0].URL != "https://hooks.example/T0KEN" {
		t.Error("redaction changed the incident's own playbook")
	}
	if withoutURLs(nil) != nil {
		t.Error("a nil incident did not stay nil")
	}
}
