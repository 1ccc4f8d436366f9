// Package statuspage is the monitor's read-only web page: served at / on the
// API's listener, under the API's TLS and authorization rules, from files
// embedded in the binary (no build step, no external CDN). The page reads
// the API itself (GET /v1/status, the GET /v1/placements?watch=1 stream);
// this package serves the files and the drill history with its charts.
// README.md describes the page.
package statuspage

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/understudy/understudy/internal/httpjson"
	"github.com/understudy/understudy/monitor/api"
)

//go:embed assets
var assets embed.FS

// Drills is the drill history the page shows.
type Drills interface {
	// Drills returns every drill of the history, oldest first.
	Drills(ctx context.Context) ([]api.Drill, error)
	// Chart returns the SVG chart of the drill with id, ErrNoDrill when
	// there is no such drill.
	Chart(ctx context.Context, id string) ([]byte, error)
}

// ErrNoDrill: the history has no drill of that ID (answered 404).
var ErrNoDrill = errors.New("no such drill")

// Router is where Mount registers the page: an *http.ServeMux.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Mount registers the page on mux: GET / and GET /ui/... (the assets and
// the drill history). drills may be nil: the page then says there is no
// drill history.
func Mount(mux Router, drills Drills) {
	h := Handler(drills)
	mux.Handle("GET /{$}", h)
	mux.Handle("GET /ui/", h)
}

// Handler serves the page at / and its files under /ui/: the assets, the
// drill history at /ui/drills and each drill's chart at /ui/drills/ID.svg.
func Handler(drills Drills) http.Handler {
	files, err := fs.Sub(assets, "assets")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(files)))
	h := history{drills}
	mux.HandleFunc("GET /ui/drills", h.list)
	mux.HandleFunc("GET /ui/drills/{file}", h.chart)
	return headers(mux)
}

// pagePolicy allows the page nothing from elsewhere: its own scripts,
// styles, images and API, no inline script, no framing.
const pagePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// headers sets the security headers of every answer.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pagePolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// history serves the drill history.
type history struct{ src Drills }

// writeJSON writes an answer of the drill history, never cached.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Cache-Control", "no-cache")
	httpjson.Write(w, code, v)
}

func (h history) list(w http.ResponseWriter, r *http.Request) {
	out := api.DrillHistory{Drills: []api.Drill{}}
	if h.src == nil {
		out.Note = "this monitor has no drill history"
		writeJSON(w, http.StatusOK, out)
		return
	}
	ds, err := h.src.Drills(r.Context())
	if err != nil {
		out.Note = "read the drill history: " + err.Error()
		writeJSON(w, http.StatusInternalServerError, out)
		return
	}
	if ds != nil {
		out.Drills = ds
	}
	writeJSON(w, http.StatusOK, out)
}

func (h history) chart(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || h.src == nil {
		http.NotFound(w, r)
		return
	}
	svg, err := h.src.Chart(r.Context(), id)
	switch {
	case errors.Is(err, ErrNoDrill):
		http.NotFound(w, r)
		return
	case err != nil:
		http.Error(w, "chart of drill "+id+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	// A chart is drawn by the drill; scripts in it, if any, never run.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	_, _ = w.Write(svg)
}
