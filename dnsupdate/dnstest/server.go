// Package dnstest runs an in-process authoritative DNS server for tests, in
// the spirit of CoreDNS's plugin/pkg/dnstest: one zone on 127.0.0.1:0 over UDP
// and TCP, TSIG checked on every signed request, unsigned updates refused,
// and RFC 2136 prerequisites and updates applied to the records it holds.
// Faults (lost requests, lost replies, SERVFAIL, truncation, answers without
// the AA bit) let tests exercise a client's error handling.
//
// It is a test double, not a DNS server: no SOA serials, no zone transfer,
// no wildcards or delegation.
package dnstest

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is one running test server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is the "127.0.0.1:port" it listens on, for UDP and TCP.
	Addr string
	zone string

	mu     sync.Mutex
	rrs    map[string][]dns.RR // canonical owner name → records (class IN)
	faults Faults
	counts Counts
	flavor Flavor
}

// Faults are injected into the next requests; the counters count down.
type Faults struct {
	Drop        int  // requests to ignore, so the client times out
	DropReplies int  // updates to apply without answering (the reply is lost)
	ServFail    int  // requests to answer with SERVFAIL
	TruncateUDP bool // answer every UDP request with TC set and nothing else
	NoAA        bool // answer queries without the AA bit
	// Forge races the server's reply to signed requests with a forged one,
	// sent first, as an attacker who sees or guesses the request would.
	Forge Forgery
}

// Forgery is a forged reply sent ahead of the real one.
type Forgery struct {
	Count int // signed requests to answer with a forgery first
	Rcode int // the forged reply's rcode, e.g. dns.RcodeNXRrset
	// TSIG adds a TSIG record that does not verify: with TSIGError BADKEY
	// or BADSIG it has no MAC (as RFC 8945 sends those errors), otherwise a
	// random one. Without it the forgery is unsigned.
	TSIG      bool
	TSIGError uint16
	// LoseReal drops the server's own reply (the request is still applied),
	// so only the forgery reaches the client.
	LoseReal bool
}

// Counts are the requests the server has seen.
type Counts struct {
	UDP, TCP int // requests by transport
	Updates  int // UPDATE requests, answered or not
}

// New starts a server for zone that knows the TSIG keys (canonical key name →
// base64 secret) and stops it when the test ends.
func New(t testing.TB, zone string, keys map[string]string) *Server {
	t.Helper()
	s := &Server{zone: dns.CanonicalName(zone), rrs: map[string][]dns.RR{}}
	var pc net.PacketConn
	var l net.Listener
	for i := 0; ; i++ { // the TCP port with the UDP port's number may be taken
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if i == 10 {
			t.Fatalf("listen tcp: %v", err)
		}
	}
	s.Addr = pc.LocalAddr().String()
	servers := []*dns.Server{{PacketConn: pc}, {Listener: l}}
	for _, srv := range servers {
		started := make(chan struct{})
		srv.Handler, srv.TsigSecret, srv.MsgAcceptFunc = s, keys, acceptUpdates
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
	}
	t.Cleanup(func() {
		for _, srv := range servers {
			srv.Shutdown()
		}
	})
	return s
}

// acceptUpdates lets UPDATE through; miekg/dns answers NOTIMP by default.
func acceptUpdates(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if opcode := int(dh.Bits>>11) & 0xF; opcode == dns.OpcodeUpdate && dh.Bits&qr == 0 {
		return dns.MsgAccept
	}
	return dns.DefaultMsgAcceptFunc(dh)
}

// Set replaces the records of name with rrs, given in zone-file syntax
// ("web.lab.test. 60 IN A 10.0.0.1"). It panics on a malformed record.
func (s *Server) Set(name string, rrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = dns.CanonicalName(name)
	delete(s.rrs, name)
	for _, text := range rrs {
		s.rrs[name] = append(s.rrs[name], dns.Copy(mustRR(text)))
	}
}

// Records returns the records of name in presentation format, in the order
// they were added.
func (s *Server) Records(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, rr := range s.rrs[dns.CanonicalName(name)] {
		out = append(out, rr.String())
	}
	return out
}

// SetFaults replaces the faults injected into the next requests.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Counts returns the requests seen so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

func mustRR(text string) dns.RR {
	rr, err := dns.NewRR(text)
	if err != nil {
		panic(err)
	}
	return rr
}

// ServeDNS answers one request; it implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, isUDP := w.RemoteAddr().(*net.UDPAddr)
	if isUDP {
		s.counts.UDP++
	} else {
		s.counts.TCP++
	}
	if r.Opcode == dns.OpcodeUpdate {
		s.counts.Updates++
	}
	if s.faults.Drop > 0 {
		s.faults.Drop--
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	tsig := r.IsTsig()
	if tsig != nil && s.faults.Forge.Count > 0 {
		s.faults.Forge.Count--
		w.Write(forged(r, tsig, s.faults.Forge))
		if s.faults.Forge.LoseReal {
			w = lostReply{w}
		}
	}
	if tsig != nil {
		if err := w.TsigStatus(); err != nil {
			if s.tsigFailure(w, m, r) {
				return
			}
			m.Rcode = dns.RcodeNotAuth
			code := uint16(dns.RcodeBadSig)
			switch {
			case errors.Is(err, dns.ErrSecret):
				code = dns.RcodeBadKey
			case errors.Is(err, dns.ErrTime):
				code = dns.RcodeBadTime
			}
			s.writeSigned(w, m, tsig, code)
			return
		}
	}
	switch {
	case s.faults.ServFail > 0:
		s.faults.ServFail--
		m.Rcode = dns.RcodeServerFailure
	case isUDP && s.faults.TruncateUDP:
		m.Truncated = true
	case r.Opcode == dns.OpcodeQuery:
		s.query(m, r)
	case r.Opcode == dns.OpcodeUpdate && tsig == nil:
		m.Rcode = dns.RcodeRefused
	case r.Opcode == dns.OpcodeUpdate:
		m.Rcode = s.update(r)
		if m.Rcode == dns.RcodeSuccess && s.faults.DropReplies > 0 {
			s.faults.DropReplies--
			return
		}
	default:
		m.Rcode = dns.RcodeNotImplemented
	}
	if s.unsignedNotAuth(r, m.Rcode) {
		m.Rcode = dns.RcodeNotAuth
		w.WriteMsg(m)
		return
	}
	s.writeSigned(w, m, tsig, 0)
}

// forged returns a reply to r that its sender cannot have signed.
func forged(r *dns.Msg, req *dns.TSIG, f Forgery) []byte {
	m := new(dns.Msg)
	m.SetRcode(r, f.Rcode)
	if f.TSIG {
		t := &dns.TSIG{Hdr: dns.RR_Header{Name: req.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
			Algorithm: req.Algorithm, TimeSigned: uint64(time.Now().Unix()), Fudge: 300, OrigId: r.Id, Error: f.TSIGError}
		if f.TSIGError != dns.RcodeBadKey && f.TSIGError != dns.RcodeBadSig {
			t.MAC = strings.Repeat("5a", 32)
			t.MACSize = 32
		}
		m.Extra = append(m.Extra, t)
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// lostReply discards what the handler writes: the reply is lost.
type lostReply struct{ dns.ResponseWriter }

func (lostReply) WriteMsg(*dns.Msg) error     { return nil }
func (lostReply) Write(b []byte) (int, error) { return len(b), nil }

// writeSigned signs the reply when the request was signed.
func (s *Server) writeSigned(w dns.ResponseWriter, m *dns.Msg, req *dns.TSIG, tsigErr uint16) {
	if req != nil {
		m.SetTsig(req.Hdr.Name, req.Algorithm, 300, time.Now().Unix())
		m.Extra[len(m.Extra)-1].(*dns.TSIG).Error = tsigErr
	}
	w.WriteMsg(m)
}

func (s *Server) query(m, r *dns.Msg) {
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	if !dns.IsSubDomain(s.zone, name) {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = !s.faults.NoAA
	rrs, ok := s.rrs[name]
	if !ok {
		m.Rcode = dns.RcodeNameError
		return
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
}
