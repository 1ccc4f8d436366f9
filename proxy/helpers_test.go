package proxy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func listen(addr netip.Addr, port int) (net.Listener, error) {
	return net.Listen("tcp", netip.AddrPortFrom(addr, uint16(port)).String())
}

func splitHostPort(s string) (string, string, error) { return net.SplitHostPort(s) }

// testLogger sends the proxy's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// do sends one request through the proxy with the given Host.
func (r *rig) do(t *testing.T, method, host string, body io.Reader) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, r.front.URL+"/", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := r.front.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// waitFor polls cond until it holds; it fails the test after 5 s. This is
// a synchronisation helper, not a speed assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// held is the value of the held-requests gauge for web.
func (r *rig) held() float64 {
	return value(r.p.m.held.WithLabelValues("web"))
}

// outcomes reads understudy_proxy_requests_total for web and outcome.
func (r *rig) outcomes(outcome string) float64 {
	return value(r.p.m.requests.WithLabelValues("web", outcome))
}

func place(addr netip.Addr, epoch uint64) Placement {
	return Placement{Service: "web", Where: "primary", Host: "vm-" + strconv.Itoa(int(epoch)), Address: addr, Epoch: epoch}
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
