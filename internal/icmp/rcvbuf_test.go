package icmp

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestSetReadBufferReadsBack: setReadBuffer returns the size the kernel
// granted, read back, on an ordinary UDP socket (no privileges needed for
// a size below net.core.rmem_max).
func TestSetReadBufferReadsBack(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP socket: %v", err)
	}
	defer c.Close()
	const want = 64 << 10
	got, err := setReadBuffer(c, want)
	if err != nil {
		t.Fatalf("setReadBuffer: %v", err)
	}
	if got < want {
		t.Errorf("granted %d bytes, want at least %d", got, want)
	}
}

// TestWarnSmallReadBuffer: a buffer smaller than wanted, or one that could
// not be set, is logged as a warning naming the sysctl; a full one is not.
func TestWarnSmallReadBuffer(t *testing.T) {
	cases := []struct {
		name      string
		got, want int
		err       error
		warn      bool
	}{
		{"granted", ReadBuffer, ReadBuffer, nil, false},
		{"capped at rmem_max", 212992, ReadBuffer, nil, true},
		{"not set", 0, ReadBuffer, errors.New("operation not permitted"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			if warned := warnSmallReadBuffer(log, tc.got, tc.want, tc.err); warned != tc.warn {
				t.Errorf("warned = %v, want %v", warned, tc.warn)
			}
			out := buf.String()
			if !tc.warn {
				if out != "" {
					t.Errorf("logged %q, want nothing", out)
				}
				return
			}
			for _, w := range []string{"level=WARN", "sysctl=net.core.rmem_max", "want_bytes=4194304"} {
				if !strings.Contains(out, w) {
					t.Errorf("log %q lacks %q", out, w)
				}
			}
		})
	}
}
