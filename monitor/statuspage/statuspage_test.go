package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/understudy/understudy/monitor/api"
)

// fakeDrills is a history of fixed drills with their charts.
type fakeDrills struct {
	drills []api.Drill
	charts map[string]string
	err    error
}

func (f *fakeDrills) Drills(context.Context) ([]api.Drill, error) { return f.drills, f.err }

func (f *fakeDrills) Chart(_ context.Context, id string) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	svg, ok := f.charts[id]
	if !ok {
		return nil, ErrNoDrill
	}
	return []byte(svg), nil
}

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// mounted is the page on a mux beside an API route, as the monitor has it.
func mounted(d Drills) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "status") })
	Mount(mux, d)
	return mux
}

func TestPageAndAssets(t *testing.T) {
	h := mounted(nil)
	cases := []struct{ path, ctype, has string }{
		{"/", "text/html", `<script src="/ui/app.js"`},
		{"/ui/app.js", "text/javascript", "/v1/placements?watch=1"},
		{"/ui/style.css", "text/css", ".badge"},
	}
	for _, tc := range cases {
		res, body := get(t, h, "GET", tc.path)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(body, tc.has) {
			t.Errorf("GET %s: %d %q, body has %q: %v", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.has, strings.Contains(body, tc.has))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
	if res, body := get(t, h, "GET", "/v1/status"); res.StatusCode != 200 || body != "status" {
		t.Errorf("the API's route beside the page: %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, h, "GET", "/elsewhere"); res.StatusCode != 404 {
		t.Errorf("GET /elsewhere = %d, want 404 (the page is at / only)", res.StatusCode)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if res, _ := get(t, h, m, "/"); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s / = %d, want 405: the page is read-only", m, res.StatusCode)
		}
	}
	if res, _ := get(t, h, "HEAD", "/"); res.StatusCode != 200 {
		t.Errorf("HEAD / = %d", res.StatusCode)
	}
}

// The page loads nothing from elsewhere: the machines that run it may have
// no internet.
func TestAssetsNeedNoOtherSite(t *testing.T) {
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		for _, s := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s names %q: the page must not load anything from elsewhere", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDrillHistory(t *testing.T) {
	med := int64(900)
	d := &fakeDrills{
		drills: []api.Drill{{ID: "20261201T220000.000Z-web-vm-stop", Result: json.RawMessage(`{"service":"web"}`), MedianMS: &med, Regression: "slow"}},
		charts: map[string]string{"20261201T220000.000Z-web-vm-stop": `<svg xmlns="http://www.w3.org/2000/svg"/>`},
	}
	h := mounted(d)
	res, body := get(t, h, "GET", "/ui/drills")
	var got api.DrillHistory
	if err := json.Unmarshal([]byte(body), &got); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /ui/drills: %d %v %s", res.StatusCode, err, body)
	}
	if len(got.Drills) != 1 || got.Drills[0].ID != d.drills[0].ID || string(got.Drills[0].Result) != `{"service":"web"}` ||
		*got.Drills[0].MedianMS != 900 || got.Drills[0].Regression != "slow" || got.Note != "" {
		t.Errorf("drills %+v", got)
	}

	res, body = get(t, h, "GET", "/ui/drills/20261201T220000.000Z-web-vm-stop.svg")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" || body != d.charts[d.drills[0].ID] {
		t.Errorf("chart: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("chart CSP %q: want sandbox", res.Header.Get("Content-Security-Policy"))
	}
	for _, p := range []string{"/ui/drills/unknown.svg", "/ui/drills/20261201T220000.000Z-web-vm-stop", "/ui/drills/..%2fx.svg"} {
		if res, _ := get(t, h, "GET", p); res.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, res.StatusCode)
		}
	}
}

func TestDrillHistoryMissingOrBroken(t *testing.T) {
	res, body := get(t, mounted(nil), "GET", "/ui/drills")
	if res.StatusCode != 200 || !strings.Contains(body, `"drills":[]`) || !strings.Contains(body, "no drill history") {
		t.Errorf("without a history: %d %s", res.StatusCode, body)
	}
	if res, _ := get(t, mounted(nil), "GET", "/ui/drills/x.svg"); res.StatusCode != 404 {
		t.Errorf("chart without a history = %d, want 404", res.StatusCode)
	}
	broken := &fakeDrills{err: errors.New("drills.jsonl:3: invalid character")}
	res, body = get(t, mounted(broken), "GET", "/ui/drills")
	if res.StatusCode != 500 || !strings.Contains(body, "drills.jsonl:3") || !strings.Contains(body, `"drills":[]`) {
		t.Errorf("broken history: %d %s", res.StatusCode, body)
	}
	if res, _ := get(t, mounted(broken), "GET", "/ui/drills/x.svg"); res.StatusCode != 500 {
		t.Errorf("chart of a broken history = %d, want 500", res.StatusCode)
	}
}
