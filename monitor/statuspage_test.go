package monitor

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestStatusPageServedLikeTheAPI: the page at / and its files are served
// on the API's listener under its rules: with api-tls only to a client
// certificate of the CA; it is read-only (a POST is not served).
func TestStatusPageServedLikeTheAPI(t *testing.T) {
	p := newAPIPKI(t)
	h := start(t, p.inventory(), nil)
	base := httpsURL(h)
	ok := p.client(t, base, p.dir).HTTP()
	for path, want := range map[string]string{"/": `src="/ui/app.js"`, "/ui/app.js": "/v1/placements?watch=1", "/ui/drills": "no drill history"} {
		resp, err := ok.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s with a client certificate: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, body without %q", path, resp.Status, want)
		}
	}
	if resp, err := p.client(t, base, "").HTTP().Get(base + "/"); err == nil || !strings.Contains(err.Error(), "certificate required") {
		if err == nil {
			resp.Body.Close()
		}
		t.Errorf("GET / without a client certificate: %v, want certificate required", err)
	}
	resp, err := ok.Post(base+"/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %s, want 405", resp.Status)
	}
}
