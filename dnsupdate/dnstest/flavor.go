package dnstest

import "github.com/miekg/dns"

// Flavor is whose way of answering errors the server imitates. The lab's
// servers were asked (dnsupdate/README.md, "Servers"); only their error
// answers differ, updates and prerequisites work alike.
type Flavor int

const (
	// BIND is BIND 9 (the default): a TSIG failure gets NOTAUTH with the
	// TSIG error (BADTIME signed, BADKEY and BADSIG without a MAC); an
	// unsigned update REFUSED; an update for a zone it does not serve a
	// signed NOTAUTH.
	BIND Flavor = iota
	// Knot is Knot DNS 3.2: TSIG failures as BIND; an unsigned update, and
	// an update for a zone it does not serve, get an unsigned NOTAUTH.
	Knot
	// PowerDNS is PowerDNS Authoritative 4.7: any TSIG failure (wrong key,
	// unknown key, time outside the fudge) gets an unsigned REFUSED to an
	// update and an unsigned NOTAUTH to a query, never a TSIG error; an
	// unsigned update REFUSED; an update for a zone it does not serve a
	// signed NOTAUTH.
	PowerDNS
)

// SetFlavor makes the server answer errors as f does.
func (s *Server) SetFlavor(f Flavor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flavor = f
}

// tsigFailure answers a request whose TSIG did not verify the flavour's
// way and reports whether it did; BIND's and Knot's way (NOTAUTH with the
// TSIG error) is ServeDNS's own.
func (s *Server) tsigFailure(w dns.ResponseWriter, m, r *dns.Msg) bool {
	if s.flavor != PowerDNS {
		return false
	}
	m.Rcode = dns.RcodeNotAuth
	if r.Opcode == dns.OpcodeUpdate {
		m.Rcode = dns.RcodeRefused
	}
	w.WriteMsg(m)
	return true
}

// unsignedNotAuth reports whether the flavour answers an update with rcode
// (from the update itself, or REFUSED for an unsigned one) with an unsigned
// NOTAUTH.
func (s *Server) unsignedNotAuth(r *dns.Msg, rcode int) bool {
	if s.flavor != Knot || r.Opcode != dns.OpcodeUpdate {
		return false
	}
	return rcode == dns.RcodeNotAuth || rcode == dns.RcodeRefused && r.IsTsig() == nil
}
