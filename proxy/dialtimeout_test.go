package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
)

// timeoutFirst is a transport to the backends whose first n round trips
// fail as a dial timeout does (a dropped SYN); the others go through.
type timeoutFirst struct {
	n  atomic.Int32
	rt http.RoundTripper
}

func (f *timeoutFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return f.rt.RoundTrip(req)
}

func TestDialTimedOut(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{fmt.Errorf("round trip: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, false},
		{errors.New("i/o timeout"), false},
	} {
		if got := dialTimedOut(c.err); got != c.want {
			t.Errorf("dialTimedOut(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestDialTimeoutNotReportedWhenTheBackendAccepts: a GET whose dial timed
// out holds the backend, but the backend answers an echo and accepts a
// new connection before the report: the monitor is not told, and the GET
// is answered once the recheck releases the hold.
func TestDialTimeoutNotReportedWhenTheBackendAccepts(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	rt := &timeoutFirst{rt: &http.Transport{}}
	rt.n.Store(1)
	r := newRigWith(t, a.port, nil, rt, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	code, body, _ := r.get(t, "web.test")
	if code != http.StatusOK || body != "primary" {
		t.Errorf("GET = %d %q, want 200 primary (retried after the blip)", code, body)
	}
	waitFor(t, "the dial timeout cleared", func() bool { return value(r.p.m.dialCleared.WithLabelValues("web")) == 1 })
	if rep := r.mon.reported(); len(rep) != 0 {
		t.Errorf("suspect reports %q, want none (the backend accepted a new connection)", rep)
	}
	if got := value(r.p.m.suspects.WithLabelValues("web", "connection")); got != 1 {
		t.Errorf("connection suspects = %v, want 1 (it was held)", got)
	}
}

// TestDialTimeoutReportedWhenTheBackendRefuses: the same dial timeout,
// but the backend's port no longer accepts: the monitor is told.
func TestDialTimeoutReportedWhenTheBackendRefuses(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	rt := &timeoutFirst{rt: &http.Transport{}}
	rt.n.Store(1 << 20)
	r := newRigWith(t, a.port, nil, rt, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	a.Close()
	if code, _, _ := r.get(t, "web.test"); code == http.StatusOK {
		t.Errorf("GET = 200 from a closed backend")
	}
	waitFor(t, "the suspect report", func() bool { return len(r.mon.reported()) == 1 })
	if got := value(r.p.m.dialCleared.WithLabelValues("web")); got != 0 {
		t.Errorf("dial timeouts cleared = %v, want 0", got)
	}
}
