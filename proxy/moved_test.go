package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// frozenBackend takes requests and answers none of them until released
// (or the request is cancelled): a VM frozen with its TCP stack still up.
// It counts the requests it got by method.
type frozenBackend struct {
	entered chan string   // the method of each request that arrived
	release chan struct{} // closed: answer everything held
	once    sync.Once
	mu      sync.Mutex
	got     map[string]int
}

func newFrozenBackend() *frozenBackend {
	return &frozenBackend{entered: make(chan string, 16), release: make(chan struct{}), got: map[string]int{}}
}

// thaw answers every held request (idempotent).
func (f *frozenBackend) thaw() { f.once.Do(func() { close(f.release) }) }

func (f *frozenBackend) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	f.got[req.Method]++
	f.mu.Unlock()
	f.entered <- req.Method
	select {
	case <-f.release:
		fmt.Fprint(w, "frozen")
	case <-req.Context().Done():
	}
}

// countingBackend answers with its name and counts requests by method.
type countingBackend struct {
	name string
	mu   sync.Mutex
	got  map[string]int
}

func (c *countingBackend) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.ReadAll(req.Body)
	c.mu.Lock()
	c.got[req.Method]++
	c.mu.Unlock()
	fmt.Fprint(w, c.name)
}

func (c *countingBackend) count(m string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[m]
}

// asyncDo sends one request through the proxy in a goroutine and delivers
// "STATUS BODY" (or the error) on the returned channel.
func (r *rig) asyncDo(method, host, body string) <-chan string {
	out := make(chan string, 1)
	go func() {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, r.front.URL+"/", rd)
		if err != nil {
			out <- err.Error()
			return
		}
		req.Host = host
		resp, err := r.front.Client().Do(req)
		if err != nil {
			out <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	return out
}

// answer waits for one async result, failing the test after a generous
// bound (a hung request, not a speed goal).
func answer(t *testing.T, what string, res <-chan string) string {
	t.Helper()
	select {
	case got := <-res:
		return got
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer within 10 s: still hanging", what)
		return ""
	}
}

// TestInflightRequestMovesOnPlacementChange: requests already sent to a
// backend that froze (it accepted them and never answers) are cancelled
// when the placement moves, and those that are idempotent (RFC 9110: GET,
// DELETE without a body, ...) are answered by the new placement. A POST is
// never sent twice: it stays on the frozen backend.
func TestInflightRequestMovesOnPlacementChange(t *testing.T) {
	frozen := newFrozenBackend()
	a := newBackendServer(t, 2, 0, "primary", frozen)
	sbh := &countingBackend{name: "standby", got: map[string]int{}}
	sb := newBackendServer(t, 3, a.port, "standby", sbh)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	t.Cleanup(frozen.thaw) // runs before the rig's cleanup, which waits for requests
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	get := r.asyncDo(http.MethodGet, "web.test", "")
	del := r.asyncDo(http.MethodDelete, "web.test", "")
	post := r.asyncDo(http.MethodPost, "web.test", "order")
	for range 3 {
		<-frozen.entered // all three reached the frozen backend
	}
	r.mon.publish(place(sb.addr, 2))

	if got := answer(t, "in-flight GET", get); got != "200 standby" {
		t.Errorf("in-flight GET: %q, want 200 from the new placement", got)
	}
	if got := answer(t, "in-flight DELETE", del); got != "200 standby" {
		t.Errorf("in-flight DELETE: %q, want 200 from the new placement", got)
	}
	frozen.thaw()
	if got := answer(t, "in-flight POST", post); got != "200 frozen" {
		t.Errorf("in-flight POST: %q, want it left on its backend (200 frozen)", got)
	}
	if n := sbh.count(http.MethodPost); n != 0 {
		t.Errorf("the new placement got %d POSTs, want 0: a POST must never be sent twice", n)
	}
	if got := r.outcomes(OutcomeForwarded); got != 3 {
		t.Errorf("forwarded outcomes = %v, want 3 (a move uses up no retry)", got)
	}
	if got := r.mon.reported(); len(got) != 0 {
		t.Errorf("suspect reports %v, want none: the placement moved, nothing was found down", got)
	}
}

// TestInflightGetWithHeadersOnlyMoves: a backend that sent its response
// headers and then froze (its body never comes) has sent nothing to the
// client yet, because the proxy holds the headers back until the first
// byte of the body: when the placement moves after the proxy read those
// headers, the GET is withdrawn and answered by the new placement, instead
// of hanging. This holds also for a response without a Content-Length
// (chunked, SSE), after which the ReverseProxy flushes at once.
func TestInflightGetWithHeadersOnlyMoves(t *testing.T) {
	for _, length := range []string{"7", ""} {
		t.Run("Content-Length="+length, func(t *testing.T) { testHeadersOnlyMoves(t, length) })
	}
}

func testHeadersOnlyMoves(t *testing.T, length string) {
	release := make(chan struct{})
	a := newBackendServer(t, 2, 0, "primary", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if length != "" {
			w.Header().Set("Content-Length", length)
		}
		w.Header().Set("X-From", "primary")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush() // the headers leave; the body never does
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	rt := newHeadersRead()
	r := newRigWith(t, a.port, nil, rt, place(a.addr, 1))
	t.Cleanup(func() { close(release) })
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	res := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, r.front.URL+"/", nil)
		req.Host = "web.test"
		resp, err := r.front.Client().Do(req)
		if err != nil {
			res <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- fmt.Sprintf("%d %s from=%q", resp.StatusCode, b, resp.Header.Get("X-From"))
	}()
	<-rt.read // the proxy has the frozen backend's headers
	r.mon.publish(place(sb.addr, 2))
	if got := answer(t, "GET with headers only", res); got != `200 standby from=""` {
		t.Fatalf("GET: %q, want the new placement's answer, without the frozen backend's headers", got)
	}
}
