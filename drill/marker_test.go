package drill

import (
	"context"
	"strings"
	"testing"
)

// A drill with a marker writes it into the primary, waits for the sync the
// monitor reports, and after the recovery finds it served by the standby,
// with the incident's recovery point.
func TestRunMarkerServedByTheStandby(t *testing.T) {
	w := newFakeWorld(t)
	cfg := w.config()
	cfg.Marker = DefaultMarkerPath
	d := w.deps()
	d.Marker = w
	res, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	m := res.Marker
	if m == nil || !strings.HasPrefix(w.marker, "understudy drill marker ") {
		t.Fatalf("marker %+v, written %q", m, w.marker)
	}
	if !m.Synced || !m.Served || m.Error != "" || m.CopyAgeMS == nil || *m.CopyAgeMS != 1500 || m.Copy != "served from a copy 2s old" {
		t.Errorf("marker = %+v, want synced, served, from a copy 1.5 s old", *m)
	}
}

// Without a way into the primary the marker reports why, and the drill
// still runs.
func TestRunMarkerWithoutWriter(t *testing.T) {
	w := newFakeWorld(t)
	cfg := w.config()
	cfg.Marker = DefaultMarkerPath
	res, err := Run(context.Background(), cfg, w.deps())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Marker == nil || res.Marker.Error == "" || res.Marker.Served || res.Verdict != Recovered {
		t.Errorf("marker %+v, verdict %s; want an error and a recovery", res.Marker, res.Verdict)
	}
}
