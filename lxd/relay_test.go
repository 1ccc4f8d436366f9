package lxd

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// countingWaiter grants every request at once and records them.
type countingWaiter struct {
	mu    sync.Mutex
	burst int // what Burst reports
	total int
	max   int
}

func (w *countingWaiter) Burst() int { return w.burst }

func (w *countingWaiter) WaitN(_ context.Context, n int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total += n
	w.max = max(w.max, n)
	return nil
}

// wsPair returns the two ends of one websocket over loopback.
func wsPair(t *testing.T) (near, far *websocket.Conn) {
	t.Helper()
	got := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		got <- c
	}))
	t.Cleanup(srv.Close)
	near, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	far = <-got
	t.Cleanup(func() { near.Close(); far.Close() })
	return near, far
}

// TestRelayLinkPacesSourceToTarget: a data link forwards messages intact
// both ways, takes a token per byte from the source (in chunks no larger
// than the bucket, also a small bucket of a low cap), none for the
// target's answers, and stops when the source goes away.
func TestRelayLinkPacesSourceToTarget(t *testing.T) {
	for _, burst := range []int{relayBurst, 1000} {
		t.Run(fmt.Sprint("burst ", burst), func(t *testing.T) { testRelayLink(t, burst) })
	}
}

func testRelayLink(t *testing.T, burst int) {
	srcNear, source := wsPair(t) // source: the daemon sending the instance
	dstNear, target := wsPair(t) // target: the daemon receiving it
	lim := &countingWaiter{burst: burst}
	l := &link{name: "fs", src: srcNear, dst: dstNear, lim: lim}
	l.start(context.Background())

	msgs := [][]byte{bytes.Repeat([]byte("a"), 200<<10), []byte("b"), bytes.Repeat([]byte("c"), relayBurst+1)}
	sent := 0
	go func() {
		for _, m := range msgs {
			if err := source.WriteMessage(websocket.BinaryMessage, m); err != nil {
				t.Errorf("source write: %v", err)
				return
			}
		}
	}()
	for i, want := range msgs {
		mt, got, err := target.ReadMessage()
		if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(got, want) {
			t.Fatalf("message %d at the target: type %d, %d bytes, %v; want binary, %d bytes", i, mt, len(got), err, len(want))
		}
		sent += len(want)
	}
	if err := target.WriteMessage(websocket.TextMessage, []byte("ack")); err != nil {
		t.Fatal(err)
	}
	if mt, got, err := source.ReadMessage(); err != nil || mt != websocket.TextMessage || string(got) != "ack" {
		t.Fatalf("answer at the source: %d %q %v", mt, got, err)
	}
	source.Close()
	<-l.done
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if lim.total != sent || lim.max > burst {
		t.Errorf("tokens taken %d (largest %d), want %d (at most %d at once)", lim.total, lim.max, sent, burst)
	}
	if l.sent != int64(sent) {
		t.Errorf("link counted %d bytes sent, want %d", l.sent, sent)
	}
}
