package dnsupdate

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/understudy/understudy/dnsupdate/dnstest"
	"time"
)

func TestLookup(t *testing.T) {
	srv, c := fixture(t)
	srv.Set("web.example.test.",
		"web.example.test. 30 IN AAAA 2001:db8::1",
		"web.example.test. 60 IN A 10.0.0.2",
		"web.example.test. 60 IN A 10.0.0.1",
		"web.example.test. 60 IN TXT \"x\"")
	srv.Set("txt.example.test.", "txt.example.test. 60 IN TXT \"x\"")
	tests := []struct {
		name    string
		want    Answer
		wantErr error
	}{
		{"web", Answer{Addrs: addrs("10.0.0.1", "10.0.0.2", "2001:db8::1"), TTL: 30 * time.Second}, nil},
		{"WEB.example.test.", Answer{Addrs: addrs("10.0.0.1", "10.0.0.2", "2001:db8::1"), TTL: 30 * time.Second}, nil},
		{"missing", Answer{}, nil},
		{"txt", Answer{}, nil},
		{"web.elsewhere.", Answer{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Lookup(context.Background(), tt.name)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got.Addrs, tt.want.Addrs) || got.TTL != tt.want.TTL {
				t.Errorf("Lookup = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLookupNotAuthoritative(t *testing.T) {
	srv, c := fixture(t)
	srv.SetFaults(dnstest.Faults{NoAA: true})
	if _, err := c.Lookup(context.Background(), "web"); !errors.Is(err, ErrNotAuth) {
		t.Errorf("err = %v, want ErrNotAuth", err)
	}
}

func TestReplaceVerifiesThePrimary(t *testing.T) {
	srv, c := fixture(t)
	// The server acknowledges the update but answers queries without AA, as
	// a server that is not the primary would: Replace must not report success.
	srv.SetFaults(dnstest.Faults{NoAA: true})
	err := c.Replace(context.Background(), "web", addrs("10.0.1.1"), time.Minute, nil)
	if !errors.Is(err, ErrNotAuth) {
		t.Errorf("err = %v, want ErrNotAuth from the verification", err)
	}
}

func TestQualify(t *testing.T) {
	c, err := New(Config{Server: "127.0.0.1", Zone: "Lab.Test"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server() != "127.0.0.1:53" || c.Zone() != "lab.test." {
		t.Errorf("server %q zone %q", c.Server(), c.Zone())
	}
	tests := []struct{ in, want string }{
		{"web", "web.lab.test."},
		{"Web", "web.lab.test."},
		{"a.b", "a.b.lab.test."},
		{"web.lab.test", "web.lab.test."},
		{"web.lab.test.", "web.lab.test."},
		{"@", "lab.test."},
		{"lab.test.", "lab.test."},
		{"web.other.test.", ""},
		{"", ""},
		{"a..b", ""},
	}
	for _, tt := range tests {
		got, err := c.Qualify(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("Qualify(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Qualify(%q): err %v is not ErrInvalid", tt.in, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good, _ := testKey(t, "k", "")
	badAlg := *good
	badAlg.Algorithm = "hmac-md5"
	for _, cfg := range []Config{
		{Zone: "x."},
		{Server: "127.0.0.1"},
		{Server: "127.0.0.1", Zone: "a..b"},
		{Server: "127.0.0.1", Zone: "x.", Key: &Key{Name: "k.", Algorithm: AlgHMACSHA256}}, // no secret
		{Server: "127.0.0.1", Zone: "x.", Key: &badAlg},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalid) {
			t.Errorf("New(%+v): err = %v, want ErrInvalid", cfg, err)
		}
	}
}

func TestVerify(t *testing.T) {
	_, c := fixture(t)
	fast := dnstest.New(t, testZone, nil)
	slow := dnstest.New(t, testZone, nil)
	never := dnstest.New(t, testZone, nil)
	fast.Set("web.example.test.", "web.example.test. 10 IN A 10.0.1.1")
	slow.Set("web.example.test.", "web.example.test. 10 IN A 10.0.0.1")
	never.Set("web.example.test.", "web.example.test. 10 IN A 10.0.0.1")

	// slow catches up while Verify polls; the goroutine ends before the test.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond)
		slow.Set("web.example.test.", "web.example.test. 10 IN A 10.0.1.1")
	}()
	defer func() { <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	servers := []string{fast.Addr, slow.Addr, never.Addr}
	res, err := c.Verify(ctx, "web", addrs("10.0.1.1"), servers)
	if !errors.Is(err, ErrVerify) {
		t.Fatalf("err = %v, want ErrVerify for the server that never catches up", err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	for i, r := range res {
		if r.Server != servers[i] {
			t.Errorf("result %d is for %s, want %s", i, r.Server, servers[i])
		}
	}
	if res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, ErrVerify) {
		t.Errorf("errors = %v, %v, %v; want nil, nil, ErrVerify", res[0].Err, res[1].Err, res[2].Err)
	}
	if res[0].Took <= 0 || res[1].Took <= 0 || res[2].Took != 0 {
		t.Errorf("took = %v, %v, %v; want a time for each server that served the set, zero for the failed one", res[0].Took, res[1].Took, res[2].Took)
	}

	res, err = c.Verify(context.Background(), "web", addrs("10.0.1.1"), servers[:2])
	if err != nil || len(res) != 2 {
		t.Errorf("Verify of servers that serve the set: %v, %v", res, err)
	}
}
