package httpserve

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs h with l on a loopback listener until the test ends and
// returns its address; state, if set, sees every connection state change.
func serve(t *testing.T, h http.Handler, l Limits, state func(net.Conn, http.ConnState)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(h, l, nil)
	srv.ConnState = state
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(Cap(ln, l)) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// guard bounds a wait that only a broken server makes long.
const guard = 10 * time.Second

// get sends one keep-alive GET on conn and reads the answer's status line.
func get(t *testing.T, conn net.Conn, br *bufio.Reader) string {
	t.Helper()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Status
}

// TestIdleKeepAliveIsClosed: a keep-alive connection that sends nothing
// after its request is closed by the server after Idle.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Limits{Idle: 20 * time.Millisecond}, nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if s := get(t, conn, br); s != "200 OK" {
		t.Fatalf("GET: %s", s)
	}
	_ = conn.SetReadDeadline(time.Now().Add(guard))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("an idle keep-alive connection: read %v, want EOF (closed by the server)", err)
	}
}

// TestSlowBodyIsCut: a request whose body never arrives is cut after Read.
func TestSlowBodyIsCut(t *testing.T) {
	handlerErr := make(chan error, 1)
	addr := serve(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		handlerErr <- err
	}), Limits{Read: 20 * time.Millisecond}, nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-handlerErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("reading a body that never arrives: %v, want a timeout", err)
		}
	case <-time.After(guard):
		t.Fatal("a body that never arrives is read forever")
	}
}

// TestStreamOutlivesReadTimeout: an answer to a GET may last longer than
// Read (the placement stream); its request's context is not cancelled.
func TestStreamOutlivesReadTimeout(t *testing.T) {
	const read = 20 * time.Millisecond
	outcome := make(chan string, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			outcome <- "cancelled"
		case <-time.After(10 * read): // a property over time: well past the read timeout
			outcome <- "alive"
		}
	}), Limits{Read: read}, nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /v1/placements?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := <-outcome; got != "alive" {
		t.Errorf("a stream %v after its request: %s, want alive", 10*read, got)
	}
}

// TestConnectionCap: at most MaxConns connections are served at once; the
// next one is served when one closes.
func TestConnectionCap(t *testing.T) {
	const limit = 2
	var mu sync.Mutex
	open, peak := 0, 0
	state := func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			peak = max(peak, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	entered := make(chan struct{}, limit+1)
	release := make(chan struct{})
	addr := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered <- struct{}{}
		<-release
	}), Limits{MaxConns: limit}, state)
	var conns []net.Conn
	for range limit + 1 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for range limit {
		<-entered
	}
	close(release) // the served ones answer and close
	select {
	case <-entered: // the waiting one is served once a slot frees
	case <-time.After(guard):
		t.Fatal("the connection over the cap was never served")
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(guard))
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.1 200") {
			t.Errorf("answer %q, want 200", b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > limit {
		t.Errorf("%d connections open at once, want at most %d", peak, limit)
	}
}

// TestNoReadSetsNoReadTimeout checks that NoRead turns the whole-request
// read timeout off, and that a zero Read takes the default.
func TestNoReadSetsNoReadTimeout(t *testing.T) {
	if got := New(http.NotFoundHandler(), Limits{Read: NoRead}, nil).ReadTimeout; got != 0 {
		t.Errorf("Read: NoRead gives ReadTimeout %v, want none", got)
	}
	if got := New(http.NotFoundHandler(), Limits{}, nil).ReadTimeout; got != DefaultRead {
		t.Errorf("zero Read gives ReadTimeout %v, want %v", got, DefaultRead)
	}
}
