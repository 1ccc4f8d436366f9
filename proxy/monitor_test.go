package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
)

func TestMonitorUnreachableKeepsServing(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	before := r.mon.watchAttempts()
	r.mon.breakStreams(true)
	waitFor(t, "a reconnect attempt", func() bool { return r.mon.watchAttempts() > before })
	for range 3 {
		if status, body, _ := r.get(t, "web.test"); status != http.StatusOK || body != "primary" {
			t.Fatalf("with the monitor down: %d %q, want 200 primary", status, body)
		}
	}
}

func TestReconnectPicksUpChanges(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	r.mon.breakStreams(true)
	// The placement changes while the proxy is disconnected.
	r.mon.mu.Lock()
	r.mon.current["web"] = place(sb.addr, 2)
	r.mon.mu.Unlock()
	r.mon.breakStreams(false)
	waitFor(t, "the snapshot after reconnecting", func() bool {
		b, _ := r.p.byName["web"].current()
		return b != nil && b.addr.Addr() == sb.addr
	})
	if _, body, _ := r.get(t, "web.test"); body != "standby" {
		t.Fatalf("after reconnect: body %q, want standby", body)
	}
}

func TestStalePlacementIgnored(t *testing.T) {
	s := newService(Service{Name: "web", Port: 80}, DefaultHeldMax)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if res := s.setPlacement(place(a, 5)); !res.changed || !res.first {
		t.Fatal("first placement not applied")
	}
	if res := s.setPlacement(place(b, 4)); !res.stale {
		t.Fatal("older epoch applied")
	}
	if got, _ := s.current(); got.addr.Addr() != a {
		t.Fatalf("backend %s, want %s", got.addr, a)
	}
}

// monitorServer is an in-process monitor API: a placement stream that
// sends the snapshot and then the lines pushed to it, and the suspect
// endpoint.
type monitorServer struct {
	*httptest.Server
	mu       sync.Mutex
	snapshot []Placement
	lines    chan Placement
	suspects []SuspectReport
	streams  int
}

func newMonitorServer(t *testing.T, snap ...Placement) *monitorServer {
	m := &monitorServer{snapshot: snap, lines: make(chan Placement, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/placements", func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("watch") != "1" {
			http.Error(w, "want watch=1", http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.streams++
		snap := append([]Placement(nil), m.snapshot...)
		m.mu.Unlock()
		enc := json.NewEncoder(w)
		_ = enc.Encode(api.PlacementEvent{Type: api.EventSnapshot, Placements: snap})
		_ = enc.Encode(api.PlacementEvent{Type: api.EventKeepalive})
		w.(http.Flusher).Flush()
		select {
		case p := <-m.lines:
			_ = enc.Encode(api.PlacementEvent{Type: api.EventChange, Placements: []Placement{p}})
			// then end the stream, to make the client reconnect
		case <-req.Context().Done():
		}
	})
	mux.HandleFunc("POST /v1/services/{name}/suspect", func(w http.ResponseWriter, req *http.Request) {
		var r SuspectReport
		if err := json.NewDecoder(req.Body).Decode(&r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.suspects = append(m.suspects, SuspectReport{Reason: req.PathValue("name"), Address: r.Address})
		m.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	m.Server = httptest.NewServer(mux)
	t.Cleanup(m.Close)
	return m
}

func TestMonitorClientStream(t *testing.T) {
	a := netip.MustParseAddr("10.200.0.11")
	ms := newMonitorServer(t, place(a, 1))
	c, err := NewMonitorClient(ms.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ms.lines <- place(netip.MustParseAddr("10.200.1.100"), 2)
	var got []string
	err = c.WatchPlacements(context.Background(), func(p Placement) {
		got = append(got, fmt.Sprintf("%s@%s#%d", p.Service, p.Address, p.Epoch))
	})
	if !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("stream end: %v, want ErrStreamEnded", err)
	}
	want := []string{"web@10.200.0.11#1", "web@10.200.1.100#2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("placements %v, want %v", got, want)
	}
	if err := c.ReportSuspect(context.Background(), "web", SuspectReport{Reason: "probe miss", Address: "10.200.0.11"}); err != nil {
		t.Fatalf("ReportSuspect: %v", err)
	}
	if len(ms.suspects) != 1 || ms.suspects[0].Reason != "web" || ms.suspects[0].Address != "10.200.0.11" {
		t.Fatalf("monitor got %+v", ms.suspects)
	}
}

func TestMonitorClientBareLinesAndIdle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, `{"service":"web","where":"standby","host":"sb1","address":"10.200.1.100","epoch":3}`+"\n")
		w.(http.Flusher).Flush()
		<-req.Context().Done() // then silence
	}))
	defer srv.Close()
	c, _ := NewMonitorClient(srv.URL, nil)
	c.idle = 50 * time.Millisecond
	var got []Placement
	err := c.WatchPlacements(context.Background(), func(p Placement) { got = append(got, p) })
	if !errors.Is(err, monitorapi.ErrStreamIdle) {
		t.Fatalf("silent stream: %v, want monitorapi.ErrStreamIdle", err)
	}
	if len(got) != 1 || got[0].Where != "standby" || got[0].Address != netip.MustParseAddr("10.200.1.100") || got[0].Epoch != 3 {
		t.Fatalf("placements %+v", got)
	}
}

func TestMonitorClientErrors(t *testing.T) {
	for _, bad := range []string{"", "ftp://x", "http://", "127.0.0.1:9400"} {
		if _, err := NewMonitorClient(bad, nil); err == nil {
			t.Errorf("NewMonitorClient(%q) accepted", bad)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "{not json}\n")
	}))
	defer srv.Close()
	c, _ := NewMonitorClient(srv.URL, nil)
	if err := c.WatchPlacements(context.Background(), func(Placement) {}); err == nil || errors.Is(err, ErrStreamEnded) {
		t.Fatalf("garbage line: %v, want a decode error", err)
	}
}

// TestProxyOverHTTPMonitorReconnects runs the proxy against the HTTP
// monitor: the stream ends after each change, and the proxy reconnects and
// follows it.
func TestProxyOverHTTPMonitorReconnects(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	ms := newMonitorServer(t, place(a.addr, 1))
	mc, _ := NewMonitorClient(ms.URL, nil)
	p, err := New(Config{Services: []Service{{Name: "web", Host: "web.test", Port: a.port}}},
		Options{Monitor: mc, Registerer: prometheus.NewRegistry(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first placement", func() bool { b, _ := p.byName["web"].current(); return b != nil })

	ms.mu.Lock()
	ms.snapshot = []Placement{place(sb.addr, 2)}
	ms.mu.Unlock()
	ms.lines <- place(sb.addr, 2) // sent, then the stream ends
	waitFor(t, "the second stream", func() bool { ms.mu.Lock(); defer ms.mu.Unlock(); return ms.streams >= 2 })
	b, _ := p.byName["web"].current()
	if b == nil || b.addr.Addr() != sb.addr {
		t.Fatalf("backend %v, want the standby %s", b, sb.addr)
	}
	if got := value(p.m.placementChanges.WithLabelValues("web")); got != 1 {
		t.Errorf("placement changes = %v, want 1", got)
	}
}
