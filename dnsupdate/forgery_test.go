package dnsupdate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/understudy/understudy/dnsupdate/dnstest"
)

// TestUnsignedErrorReplyToSignedUpdate races the server's signed reply to a
// compare-and-swap with a forged one. A forgery must never decide the
// outcome: with the real reply behind it the update succeeds; when the real
// reply is lost, the attempt counts as lost and is retried (the retry finds
// the update applied and reports success); only when every attempt sees only
// forgeries is the error ErrBadKey, saying what was dropped, and never
// ErrPrecondition (which a failover takes as final).
func TestUnsignedErrorReplyToSignedUpdate(t *testing.T) {
	nxrrset := dnstest.Forgery{Count: 1, Rcode: dns.RcodeNXRrset}
	badMAC := dnstest.Forgery{Count: 1, Rcode: dns.RcodeNXRrset, TSIG: true}
	badKey := dnstest.Forgery{Count: 1, Rcode: dns.RcodeNotAuth, TSIG: true, TSIGError: dns.RcodeBadKey}
	lost := func(f dnstest.Forgery) dnstest.Forgery { f.LoseReal = true; return f }
	always := func(f dnstest.Forgery) dnstest.Forgery { f.LoseReal = true; f.Count = 1000; return f }
	tests := []struct {
		name    string
		forge   dnstest.Forgery
		wantErr error  // nil: the update succeeds
		inMsg   string // in the error
	}{
		{"unsigned NXRRSET before the real reply", nxrrset, nil, ""},
		{"NXRRSET with a wrong MAC before the real reply", badMAC, nil, ""},
		{"BADKEY without a MAC before the real reply", badKey, nil, ""},
		{"only an unsigned NXRRSET, then the retry's real reply", lost(nxrrset), nil, ""},
		{"only an NXRRSET with a wrong MAC, then the retry's real reply", lost(badMAC), nil, ""},
		{"only a BADKEY without a MAC, then the retry's real reply", lost(badKey), nil, ""},
		{"only unsigned NXRRSETs on every attempt", always(nxrrset), ErrBadKey, "unsigned (NXRRSET) and was dropped"},
		{"only NXRRSETs with a wrong MAC on every attempt", always(badMAC), ErrBadKey, "does not verify"},
		{"only BADKEYs without a MAC on every attempt", always(badKey), ErrBadKey, "could also be forged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := fixture(t)
			srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
			srv.SetFaults(dnstest.Faults{Forge: tt.forge})
			err := c.Replace(context.Background(), "web", addrs("10.0.1.1"), time.Minute, addrs("10.0.0.1"))
			if errors.Is(err, ErrPrecondition) {
				t.Fatalf("a forged reply was taken as the server's answer: %v", err)
			}
			if got := srv.Records("web.example.test."); len(got) != 1 || !strings.HasSuffix(got[0], "10.0.1.1") {
				t.Errorf("records = %q, want one A 10.0.1.1 (the first attempt is applied)", got)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Replace: %v, want success (a real reply follows the forgery, on this attempt or the retry)", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.wantErr, tt.inMsg)
			}
			if n, want := srv.Counts().Updates, c.retries+1; n != want {
				t.Errorf("server saw %d updates, want %d (every attempt retried)", n, want)
			}
		})
	}
}

// TestPreconditionMessageDoesNotContradictItself: when the record holds the
// expected set again by the time Replace looks, the message says it changed
// in between instead of "holds [X], not the expected [X]".
func TestPreconditionMessageDoesNotContradictItself(t *testing.T) {
	srv, c := fixture(t)
	srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
	cause := &dnsError{kind: ErrPrecondition, msg: "NXRRSET"}
	err := c.preconditionFailed(context.Background(), "web.example.test.", addrs("10.0.1.1"), addrs("10.0.0.1"), false, cause)
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("err = %v, want ErrPrecondition", err)
	}
	if msg := err.Error(); strings.Contains(msg, "not the expected") || !strings.Contains(msg, "changed it while the update was in flight") {
		t.Errorf("message %q contradicts itself or does not say the record changed in between", msg)
	}
	srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.2")
	err = c.preconditionFailed(context.Background(), "web.example.test.", addrs("10.0.1.1"), addrs("10.0.0.1"), false, cause)
	if want := "it holds [10.0.0.2], not the expected [10.0.0.1]"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
}
