package monitorapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/understudy/understudy/monitor/api"
)

func TestDecodePlacementLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		typ   string
		count int
	}{
		{`{"type":"snapshot","placements":[{"service":"web","address":"10.200.0.11"},{"service":"api","address":"10.200.0.12"}]}`, api.EventSnapshot, 2},
		{`{"type":"keepalive"}`, api.EventKeepalive, 0},
		{`{"service":"web","where":"standby","address":"10.200.1.100","epoch":3}`, api.EventChange, 1},
		{`{}`, "", 0},
	} {
		ev, err := DecodePlacementLine([]byte(tc.line))
		if err != nil || ev.Type != tc.typ || len(ev.Placements) != tc.count {
			t.Errorf("DecodePlacementLine(%s) = %+v, %v; want type %q with %d placement(s)", tc.line, ev, err, tc.typ, tc.count)
		}
	}
	for _, bad := range []string{`{not json}`, `{"service":"web","address":"10.0.0.256"}`, `{"type":"change","placements":[{"address":"x"}]}`} {
		if _, err := DecodePlacementLine([]byte(bad)); err == nil {
			t.Errorf("DecodePlacementLine(%s) accepted", bad)
		}
	}
}

func TestWatchPlacementsEndsAndRefusals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/placements" || r.URL.Query().Get("watch") != "1" {
			t.Errorf("asked for %s", r.URL)
		}
		io.WriteString(w, `{"type":"snapshot","placements":[{"service":"web","address":"10.200.0.11"}]}`+"\n\n"+`{"type":"keepalive"}`+"\n")
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = c.WatchPlacements(context.Background(), 0, func(ev api.PlacementEvent) { got = append(got, ev.Type) })
	if !errors.Is(err, ErrStreamEnded) || len(got) != 2 || got[0] != api.EventSnapshot || got[1] != api.EventKeepalive {
		t.Fatalf("stream: events %v, %v; want snapshot, keepalive, then ErrStreamEnded", got, err)
	}
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"not leading"}`, http.StatusServiceUnavailable)
	}))
	defer refusing.Close()
	if c, err = New(refusing.URL, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.WatchPlacements(context.Background(), 0, func(api.PlacementEvent) {}); Code(err) != http.StatusServiceUnavailable {
		t.Fatalf("refused stream: %v, want a 503 StatusError", err)
	}
}
