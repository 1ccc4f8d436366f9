package lxd

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// logBuffer collects the client's debug logs (the relay logs its bytes).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// TestIntegrationCopyBandwidthCap copies a stopped busybox container with
// 2 MiB of its own data from standby-1 to spare-1 four times: pulled by the
// target and relayed by the Incus client (no cap), then relayed by ours
// with a cap of 2 MiB/s and of 256 KiB/s. It checks that the capped copy
// starts and answers, and that the cap holds: at 256 KiB/s the relay cannot
// forward what it forwarded (at least the 2 MiB blob) faster than
// (bytes - one burst) / 256 KiB/s, about 8 s. That is a lower bound, which a
// slow machine cannot break; the other times are logged, not asserted.
func TestIntegrationCopyBandwidthCap(t *testing.T) {
	lab := labtest.Require(t)
	src := connectHTTPS(t, lab, lab.Standby)
	dst := connectHTTPS(t, lab, lab.Spare)
	var logs logBuffer
	src.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const name = "t-lxd-bw"
	ensureFresh(t, src, labSpec(lab, name, "10.200.1.195", lab.Standby.Gateway))
	// The target has the same image, so only what differs from it travels:
	// give the container 2 MiB of its own (random, so nothing compresses).
	if err := src.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	res, err := src.Exec(ctx, name, []string{"dd", "if=/dev/urandom", "of=/blob", "bs=64k", "count=32"}, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("write the blob: %+v %v", res, err)
	}
	if err := src.Stop(ctx, name, 0); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		target    string
		mode      string
		bandwidth int64
	}{
		{"t-lxd-bw-pull", "pull", 0},
		{"t-lxd-bw-relay", "relay", 0}, // the Incus client's own relay
		{"t-lxd-bw-2m", "", 2 << 20},
		{"t-lxd-bw-256k", "", 256 << 10},
	}
	took := map[int64]time.Duration{}
	for _, tc := range cases {
		cleanup(t, dst, tc.target)
		t.Cleanup(func() { cleanup(t, dst, tc.target) })
		opts := CopyOptions{TargetName: tc.target, Mode: tc.mode, Bandwidth: tc.bandwidth,
			Config: map[string]string{"environment.IPADDR": "10.200.2.195/24", "environment.GATEWAY": lab.Spare.Gateway}}
		start := time.Now()
		if err := src.Copy(ctx, dst, name, opts); err != nil {
			t.Fatalf("copy to %s (bandwidth %d B/s): %v", tc.target, tc.bandwidth, err)
		}
		took[tc.bandwidth] = time.Since(start)
		t.Logf("copy to %s, mode %q, bandwidth %d B/s (0: no cap): %v", tc.target, tc.mode, tc.bandwidth, took[tc.bandwidth].Round(time.Millisecond))
	}
	for _, l := range logs.lines("copy relayed") {
		t.Log(l)
	}
	if got := len(logs.lines("copy relayed")); got != 2 {
		t.Errorf("%d relayed copies logged, want 2", got)
	}
	const lowCap = 256 << 10
	sent := relayedBytes(t, logs.lines("copy relayed"), lowCap)
	if sent < 2<<20 {
		t.Errorf("the relay forwarded %d bytes at %d B/s, want at least the 2 MiB blob", sent, lowCap)
	}
	if floor := time.Duration(float64(sent-relayBurst) / lowCap * float64(time.Second)); took[lowCap] < floor {
		t.Errorf("copy of %d bytes at %d B/s took %v, faster than the cap allows (at least %v)", sent, lowCap, took[lowCap], floor)
	}

	capped := cases[len(cases)-1].target
	if err := dst.Start(ctx, capped); err != nil {
		t.Fatal(err)
	}
	ip, err := dst.WaitIPv4(ctx, capped, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if body, err := httpBody(ctx, ip); err != nil || body != capped {
		t.Fatalf("GET on the capped copy = %q, %v; want %q", body, err, capped)
	}
}

// relayedBytes returns the bytes of the "copy relayed" log line of the copy
// capped at bandwidth.
func relayedBytes(t *testing.T, lines []string, bandwidth int64) int64 {
	t.Helper()
	want := "bandwidth=" + strconv.FormatInt(bandwidth, 10)
	for _, l := range lines {
		if !strings.Contains(l, want) {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "bytes="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("log line %q: bytes: %v", l, err)
				}
				return n
			}
		}
	}
	t.Fatalf("no \"copy relayed\" line with %s in %q", want, lines)
	return 0
}
