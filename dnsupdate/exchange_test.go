package dnsupdate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dnsupdate/dnstest"
	"github.com/understudy/understudy/internal/clock/clocktest"
)

// TestReplaceErrors checks that each way a server can reject an update maps
// to its sentinel error and leaves the record unchanged. Only a BADKEY or
// BADSIG reply is retried: it carries no MAC, so it cannot be told from a
// forgery that hides the real reply.
func TestReplaceErrors(t *testing.T) {
	goodKey, goodSecret := testKey(t, "test-key", "")
	otherSecretKey, _ := testKey(t, "test-key", "")         // same name, other secret
	unknownKey, _ := testKey(t, "unknown-key", "")          // a name the server does not know
	otherAlgKey, _ := testKey(t, "test-key", "hmac-sha512") // same name, other algorithm
	tests := []struct {
		name    string
		key     *Key
		zone    string
		skew    time.Duration
		wantErr error
		inMsg   string
		retried bool // every attempt is made
	}{
		{"wrong secret", otherSecretKey, testZone, 0, ErrBadKey, "BADSIG", true},
		{"unknown key name", unknownKey, testZone, 0, ErrBadKey, "BADKEY", true},
		{"wrong algorithm", otherAlgKey, testZone, 0, ErrBadKey, "rejected", true},
		{"unsigned", nil, testZone, 0, ErrRefused, "unsigned", false},
		{"zone not served", goodKey, "other.test.", 0, ErrNotAuth, "NOTAUTH", false},
		{"clock skew", goodKey, testZone, -time.Hour, ErrBadTime, "clock", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := dnstest.New(t, testZone, map[string]string{goodKey.Name: goodSecret})
			srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
			srv.Set("web.other.test.", "web.other.test. 60 IN A 10.0.0.1")
			// A BADKEY or BADSIG reply has no MAC: the client waits out the
			// attempt for a verifiable one, then retries. The timeout leaves
			// a loaded machine time to answer, so no other case sees a retry.
			c, err := New(Config{Server: srv.Addr, Zone: tt.zone, Key: tt.key, Timeout: 750 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			c.clock = clocktest.Skewed(tt.skew)
			err = c.Replace(context.Background(), "web", addrs("10.0.1.1"), time.Minute, addrs("10.0.0.1"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("error %q does not mention %q", err, tt.inMsg)
			}
			want := 1
			if tt.retried {
				want = c.retries + 1
			}
			if n := srv.Counts().Updates; n != want {
				t.Errorf("server saw %d updates, want %d", n, want)
			}
			if got := srv.Records("web.example.test."); !slices.Equal(got, []string{"web.example.test.\t60\tIN\tA\t10.0.0.1"}) {
				t.Errorf("record changed: %q", got)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name        string
		faults      dnstest.Faults
		wantErr     error
		wantUpdates int
	}{
		{"one SERVFAIL is retried", dnstest.Faults{ServFail: 1}, nil, 2},
		{"SERVFAIL every time", dnstest.Faults{ServFail: 100}, ErrServFail, 3},
		{"one lost request is retried", dnstest.Faults{Drop: 1}, nil, 2},
		{"no answer at all", dnstest.Faults{Drop: 100}, ErrTimeout, 3},
		{"lost reply of an applied update", dnstest.Faults{DropReplies: 1}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := fixture(t)
			srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
			srv.SetFaults(tt.faults)
			err := c.Replace(context.Background(), "web", addrs("10.0.1.1"), time.Minute, addrs("10.0.0.1"))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n := srv.Counts().Updates; n != tt.wantUpdates {
				t.Errorf("server saw %d updates, want %d", n, tt.wantUpdates)
			}
			want := "10.0.1.1"
			if tt.wantErr != nil {
				want = "10.0.0.1"
			}
			if got := srv.Records("web.example.test."); len(got) != 1 || !strings.HasSuffix(got[0], want) {
				t.Errorf("records = %q, want one A %s", got, want)
			}
		})
	}
}

func TestTruncatedReplyFallsBackToTCP(t *testing.T) {
	srv, c := fixture(t)
	srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
	srv.SetFaults(dnstest.Faults{TruncateUDP: true})
	if err := c.Replace(context.Background(), "web", addrs("10.0.1.1"), time.Minute, addrs("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if n := srv.Counts(); n.TCP == 0 || n.Updates != 2 {
		t.Errorf("tcp requests = %d, updates = %d; want the update over UDP then over TCP", n.TCP, n.Updates)
	}
	if got := srv.Records("web.example.test."); len(got) != 1 || !strings.HasSuffix(got[0], "10.0.1.1") {
		t.Errorf("records = %q", got)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv, c := fixture(t)
	srv.SetFaults(dnstest.Faults{Drop: 100})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Replace(ctx, "web", addrs("10.0.1.1"), time.Minute, nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if n := srv.Counts().Updates; n != 1 {
		t.Errorf("server saw %d updates after the context ended, want 1", n)
	}
}
