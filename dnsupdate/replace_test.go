package dnsupdate

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/understudy/understudy/dnsupdate/dnstest"
	"time"
)

const testZone = "example.test."

// testKey returns a fresh random key and its base64 secret.
func testKey(t testing.TB, name, alg string) (*Key, string) {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret)
	k, err := NewKey(name, alg, secret)
	if err != nil {
		t.Fatal(err)
	}
	return k, base64.StdEncoding.EncodeToString(secret)
}

// fixture is a test server that knows one key and a client that uses it.
func fixture(t testing.TB) (*dnstest.Server, *Client) {
	t.Helper()
	key, secret := testKey(t, "test-key", "")
	srv := dnstest.New(t, testZone, map[string]string{key.Name: secret})
	return srv, newClient(t, srv, key)
}

func newClient(t testing.TB, srv *dnstest.Server, key *Key) *Client {
	t.Helper()
	c, err := New(Config{Server: srv.Addr, Zone: testZone, Key: key, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestReplace(t *testing.T) {
	tests := []struct {
		name    string
		before  []string // records of web.example.test. before
		addrs   []netip.Addr
		expect  []netip.Addr
		wantErr error
		after   []string // nil: unchanged
	}{
		{
			name:  "plain replace creates the name",
			addrs: addrs("10.0.0.1"),
			after: []string{"web.example.test.\t10\tIN\tA\t10.0.0.1"},
		},
		{
			name:   "plain replace drops A and AAAA, keeps other types",
			before: []string{"web.example.test. 60 IN A 10.0.0.9", "web.example.test. 60 IN AAAA 2001:db8::9", "web.example.test. 60 IN TXT \"keep\""},
			addrs:  addrs("10.0.0.1", "2001:db8::1"),
			after: []string{"web.example.test.\t60\tIN\tTXT\t\"keep\"", "web.example.test.\t10\tIN\tA\t10.0.0.1",
				"web.example.test.\t10\tIN\tAAAA\t2001:db8::1"},
		},
		{
			name:   "compare-and-swap applies when the record holds exactly expect",
			before: []string{"web.example.test. 60 IN A 10.0.0.1"},
			addrs:  addrs("10.0.1.1"),
			expect: addrs("10.0.0.1"),
			after:  []string{"web.example.test.\t10\tIN\tA\t10.0.1.1"},
		},
		{
			name:   "compare-and-swap with both families",
			before: []string{"web.example.test. 60 IN A 10.0.0.1", "web.example.test. 60 IN AAAA 2001:db8::1"},
			addrs:  addrs("10.0.1.1"),
			expect: addrs("2001:db8::1", "10.0.0.1"),
			after:  []string{"web.example.test.\t10\tIN\tA\t10.0.1.1"},
		},
		{
			name:    "compare-and-swap refused when the record moved on",
			before:  []string{"web.example.test. 60 IN A 10.0.0.2"},
			addrs:   addrs("10.0.1.1"),
			expect:  addrs("10.0.0.1"),
			wantErr: ErrPrecondition,
		},
		{
			name:    "expect is a subset of the A set",
			before:  []string{"web.example.test. 60 IN A 10.0.0.1", "web.example.test. 60 IN A 10.0.0.2"},
			addrs:   addrs("10.0.1.1"),
			expect:  addrs("10.0.0.1"),
			wantErr: ErrPrecondition,
		},
		{
			name:    "expect names only A but an AAAA exists",
			before:  []string{"web.example.test. 60 IN A 10.0.0.1", "web.example.test. 60 IN AAAA 2001:db8::1"},
			addrs:   addrs("10.0.1.1"),
			expect:  addrs("10.0.0.1"),
			wantErr: ErrPrecondition,
		},
		{
			name:    "expect on a name that does not exist",
			addrs:   addrs("10.0.1.1"),
			expect:  addrs("10.0.0.1"),
			wantErr: ErrPrecondition,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := fixture(t)
			srv.Set("web.example.test.", tt.before...)
			before := srv.Records("web.example.test.")
			err := c.Replace(context.Background(), "web", tt.addrs, 10*time.Second, tt.expect)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Replace: err = %v, want %v", err, tt.wantErr)
			}
			got := srv.Records("web.example.test.")
			want := tt.after
			if want == nil {
				want = before
			}
			if !slices.Equal(got, want) {
				t.Errorf("records after Replace:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestReplacePreconditionSaysWhatIsThere(t *testing.T) {
	srv, c := fixture(t)
	srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.2")
	err := c.Replace(context.Background(), "web.example.test.", addrs("10.0.1.1"), 10*time.Second, addrs("10.0.0.1"))
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("err = %v, want ErrPrecondition", err)
	}
	for _, s := range []string{"10.0.0.2", "10.0.0.1", "unchanged", `"web.example.test."`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestReplaceRejectsBadInput(t *testing.T) {
	srv, c := fixture(t)
	tests := []struct {
		name         string
		host         string
		addrs, expct []netip.Addr
		ttl          time.Duration
	}{
		{"outside the zone", "web.other.test.", addrs("10.0.0.1"), nil, time.Second},
		{"no addresses", "web", nil, nil, time.Second},
		{"invalid address", "web", []netip.Addr{{}}, nil, time.Second},
		{"invalid expected address", "web", addrs("10.0.0.1"), []netip.Addr{{}}, time.Second},
		{"negative TTL", "web", addrs("10.0.0.1"), nil, -time.Second},
		{"empty name", "", addrs("10.0.0.1"), nil, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Replace(context.Background(), tt.host, tt.addrs, tt.ttl, tt.expct)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if n := srv.Counts().Updates; n != 0 {
		t.Errorf("%d updates reached the server, want none", n)
	}
}

// TestReplaceConcurrent races two compare-and-swaps from the same expected
// state: exactly one may win, like two controllers acting on one failure.
func TestReplaceConcurrent(t *testing.T) {
	srv, c := fixture(t)
	for round := range 20 {
		srv.Set("race.example.test.", "race.example.test. 60 IN A 10.0.0.1")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() {
				errs[i] = c.Replace(context.Background(), "race", addrs("10.0.2."+string(rune('1'+i))), time.Minute, addrs("10.0.0.1"))
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrPrecondition):
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners (%v), want exactly 1", round, won, errs)
		}
	}
}
