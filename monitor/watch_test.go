package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/embedded"
)

// TestWatchStormKeepsStreaming: 2,000 placement streams opened and dropped
// against a monitor on the embedded etcd (its in-process client) leave the
// stream working: a failover's change still reaches a new stream, and the
// goroutines go back to where they were. With one etcd watch per stream,
// etcd's in-process client deadlocked after about a thousand
// (etcd-io/etcd#20716) and the change never came.
func TestWatchStormKeepsStreaming(t *testing.T) {
	emb, err := embedded.Start(context.Background(), embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	h := start(t, testInventory, func(h *harness) {
		h.tune = func(o *Options) { o.Store, o.Etcd, o.Name, o.LeaseTTL = nil, emb.Client, "mon-a", 2e9 }
	})
	h.eventually("mon-a leads", func() bool { return h.ctrl.roles.leading() != nil })
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	// One stream first, so the baseline includes what stays (the hub's
	// watch, the idle connections).
	openAndDrop(t, hc, h.url)
	tr.CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	const streams, workers = 2000, 40
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range streams / workers {
				if !openAndDrop(t, hc, h.url) {
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// A new stream still hears about a failover.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url+"/v1/placements?watch=1", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(resp.Body)
	if ev := nextEvent(t, lines); ev.Type != "snapshot" {
		t.Fatalf("first event %+v, want the snapshot", ev)
	}
	sent := time.Now()
	if code, e := h.post("/v1/services/web/failover", `{"reason":"watch storm"}`); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	for {
		ev := nextEvent(t, lines)
		if ev.Type == "change" && len(ev.Placements) == 1 && ev.Placements[0].Service == "web" && ev.Placements[0].Where == recover.AtStandby {
			break
		}
	}
	t.Logf("the failover's change arrived %s after the request, after %d streams", time.Since(sent).Round(time.Millisecond), streams)
	resp.Body.Close()
	cancel()
	tr.CloseIdleConnections()

	// The streams' goroutines are gone (a few of net/http's may linger).
	deadline := time.Now().Add(30 * time.Second)
	for n, w := runtime.NumGoroutine(), h.ctrl.etcdStore.Watchers(); n > baseline+10 || w != 0; n, w = runtime.NumGoroutine(), h.ctrl.etcdStore.Watchers() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines and %d watchers 30 s after the storm, baseline %d:\n%s", n, w, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openAndDrop opens a placement stream, reads its snapshot and drops it.
func openAndDrop(t *testing.T, hc *http.Client, base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/placements?watch=1", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("open a stream: %v", err)
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("open a stream: %s", resp.Status)
		return false
	}
	var ev api.PlacementEvent
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil || ev.Type != "snapshot" {
		t.Errorf("a stream's first event: %+v, %v", ev, err)
		return false
	}
	return true
}

// nextEvent reads the stream's next event, failing the test at its end.
func nextEvent(t *testing.T, lines *bufio.Scanner) api.PlacementEvent {
	t.Helper()
	if !lines.Scan() {
		t.Fatalf("the stream ended: %v", lines.Err())
	}
	var ev api.PlacementEvent
	if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
		t.Fatalf("decode %q: %v", lines.Bytes(), err)
	}
	return ev
}
