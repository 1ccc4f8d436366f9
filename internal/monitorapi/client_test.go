package monitorapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

func TestClientCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/status":
			_ = json.NewEncoder(w).Encode(map[string]any{"epoch": 7, "header": r.Header.Get("X-Test")})
		case "/v1/services/web/reset":
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "already on its primary: " + string(body) + " " + r.Header.Get("Content-Type")})
		default:
			http.Error(w, "no such path", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Base() != srv.URL {
		t.Errorf("Base = %q, want %q", c.Base(), srv.URL)
	}
	var st struct {
		Epoch  int    `json:"epoch"`
		Header string `json:"header"`
	}
	if err := c.Get(t.Context(), "/v1/status", &st); err != nil || st.Epoch != 7 {
		t.Errorf("Get = %+v, %v", st, err)
	}
	r, err := c.Do(t.Context(), http.MethodGet, "/v1/status", nil, http.Header{"X-Test": {"yes"}})
	if err != nil || r.Err() != nil || r.JSON(&st) != nil || st.Header != "yes" {
		t.Errorf("Do with a header: %+v, %v", st, err)
	}
	err = c.Post(t.Context(), "/v1/services/web/reset", map[string]string{"reason": "r"}, nil)
	want := `monitor at ` + srv.URL + ` answered 409 Conflict: already on its primary: {"reason":"r"} application/json`
	if err == nil || err.Error() != want || Code(err) != http.StatusConflict {
		t.Errorf("Post = %v (code %d), want %q", err, Code(err), want)
	}
	err = c.Get(t.Context(), "/nope", nil)
	if err == nil || !strings.HasSuffix(err.Error(), "answered 404 Not Found: no such path") || Code(err) != 404 {
		t.Errorf("Get of an unknown path = %v", err)
	}
	if Code(io.EOF) != 0 {
		t.Error("Code of a non-status error is not 0")
	}
	down, _ := New("http://127.0.0.1:1", nil)
	if err := down.Get(t.Context(), "/healthz", nil); err == nil || !strings.Contains(err.Error(), "is `understudy monitor` running?") {
		t.Errorf("Get from nobody = %v", err)
	}
}

func TestNewAndTLSConfig(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:9180", "ftp://h:1", "http://", "://x"} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if conf, err := TLSConfig(inventory.TLSFiles{}); conf != nil || err != nil {
		t.Errorf("TLSConfig of no files = %v, %v; want plain HTTP", conf, err)
	}
	if _, err := TLSConfig(inventory.TLSFiles{CA: "/nonexistent/ca.crt", Cert: "c", Key: "k"}); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("TLSConfig of missing files = %v", err)
	}
}
