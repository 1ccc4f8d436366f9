package proxy

import (
	"bufio"
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for a server's ErrorLog.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// echoUpgrade switches to protocol "echo" and echoes one line.
var echoUpgrade = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Upgrade") != "echo" {
		http.Error(w, "upgrade to echo", http.StatusBadRequest)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	_ = brw.Flush()
	line, err := brw.ReadString('\n')
	if err != nil {
		return
	}
	_, _ = brw.WriteString(line)
	_ = brw.Flush()
	_, _ = io.Copy(io.Discard, brw) // until the client closes
})

// TestUpgradeWritesNothingAfterHijack: an upgrade (101) through the proxy
// round-trips, and the proxy writes nothing to the hijacked connection
// afterwards (net/http would log "response.WriteHeader on hijacked
// connection" to the server's ErrorLog).
func TestUpgradeWritesNothingAfterHijack(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", echoUpgrade)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	var errs lockedBuffer
	front := httptest.NewUnstartedServer(r.p)
	front.Config.ErrorLog = log.New(&errs, "", 0)
	front.Start()
	t.Cleanup(front.Close)
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read the upgrade's response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d, want 101", resp.StatusCode)
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := br.ReadString('\n'); err != nil || got != "ping\n" {
		t.Fatalf("echo over the upgraded connection: %q, %v", got, err)
	}
	c.Close()
	waitFor(t, "the upgrade's handler to finish", func() bool { return r.outcomes(OutcomeForwarded) == 1 })
	if got := errs.String(); got != "" {
		t.Errorf("server ErrorLog after an upgrade: %q, want nothing", got)
	}
}
