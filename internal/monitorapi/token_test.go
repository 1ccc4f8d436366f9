package monitorapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTokenRefusesReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := LoadToken(write("ok", "s3cret-token\n", 0o600)); err != nil || tok != "s3cret-token" {
		t.Errorf("LoadToken(0600) = %q, %v; want the first line", tok, err)
	}
	for name, mode := range map[string]os.FileMode{"group": 0o640, "world": 0o604} {
		_, err := LoadToken(write(name, "s3cret-token\n", mode))
		if !errors.Is(err, ErrTokenFile) {
			t.Errorf("LoadToken(%04o) = %v, want ErrTokenFile", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	if _, err := LoadToken(write("empty", " \n", 0o600)); !errors.Is(err, ErrTokenFile) {
		t.Errorf("LoadToken(empty) = %v, want ErrTokenFile", err)
	}
}

func TestClientSendsTokenAndJSON(t *testing.T) {
	type seen struct{ token, ctype, method string }
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{BearerToken(r), r.Header.Get("Content-Type"), r.Method}
	}))
	defer srv.Close()
	c, err := New(srv.URL, WithToken(HTTPClient(nil), "tok"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(t.Context(), http.MethodPost, "/v1/services/web/failover", nil, nil); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.token != "tok" || s.ctype != "application/json" {
		t.Errorf("POST without a body: token %q, Content-Type %q; want tok, application/json", s.token, s.ctype)
	}
	hdr := http.Header{"Authorization": {"Bearer other"}}
	if _, err := c.Do(t.Context(), http.MethodGet, "/v1/status", nil, hdr); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.token != "other" || s.ctype != "" {
		t.Errorf("GET with its own Authorization: token %q, Content-Type %q; want other, none", s.token, s.ctype)
	}
}
