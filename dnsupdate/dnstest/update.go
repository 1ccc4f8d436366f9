package dnstest

import (
	"github.com/miekg/dns"
)

// update applies an RFC 2136 update (§3.2 prerequisites, §3.4 updates) under
// s.mu and returns the rcode. Nothing changes unless every prerequisite holds.
func (s *Server) update(r *dns.Msg) int {
	if len(r.Question) != 1 || dns.CanonicalName(r.Question[0].Name) != s.zone || r.Question[0].Qtype != dns.TypeSOA {
		return dns.RcodeNotAuth
	}
	if rc := s.prerequisites(r.Answer); rc != dns.RcodeSuccess {
		return rc
	}
	for _, rr := range r.Ns {
		if !dns.IsSubDomain(s.zone, dns.CanonicalName(rr.Header().Name)) {
			return dns.RcodeNotZone
		}
	}
	for _, rr := range r.Ns {
		s.apply(rr)
	}
	return dns.RcodeSuccess
}

func (s *Server) prerequisites(prereqs []dns.RR) int {
	var valueDependent []dns.RR
	for _, rr := range prereqs {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		if h.Ttl != 0 {
			return dns.RcodeFormatError
		}
		if !dns.IsSubDomain(s.zone, name) {
			return dns.RcodeNotZone
		}
		existing := s.rrs[name]
		switch h.Class {
		case dns.ClassANY: // name in use, or RRset exists (value independent)
			if h.Rrtype == dns.TypeANY && len(existing) == 0 {
				return dns.RcodeNameError
			}
			if h.Rrtype != dns.TypeANY && len(ofType(existing, h.Rrtype)) == 0 {
				return dns.RcodeNXRrset
			}
		case dns.ClassNONE: // name not in use, or RRset does not exist
			if h.Rrtype == dns.TypeANY && len(existing) > 0 {
				return dns.RcodeYXDomain
			}
			if h.Rrtype != dns.TypeANY && len(ofType(existing, h.Rrtype)) > 0 {
				return dns.RcodeYXRrset
			}
		case dns.ClassINET:
			valueDependent = append(valueDependent, rr)
		default:
			return dns.RcodeFormatError
		}
	}
	// §3.2.3: each (name, type) RRset must equal the prerequisite's records.
	for _, p := range valueDependent {
		h := p.Header()
		want := ofType(valueDependent, h.Rrtype, dns.CanonicalName(h.Name))
		have := ofType(s.rrs[dns.CanonicalName(h.Name)], h.Rrtype)
		if !sameSet(want, have) {
			return dns.RcodeNXRrset
		}
	}
	return dns.RcodeSuccess
}

func (s *Server) apply(rr dns.RR) {
	h := rr.Header()
	name := dns.CanonicalName(h.Name)
	switch h.Class {
	case dns.ClassINET: // add, replacing an identical record
		c := dns.Copy(rr)
		c.Header().Name = name
		s.rrs[name] = append(without(s.rrs[name], func(x dns.RR) bool { return dns.IsDuplicate(x, c) }), c)
	case dns.ClassANY: // delete an RRset, or all RRsets of the name
		s.rrs[name] = without(s.rrs[name], func(x dns.RR) bool {
			return h.Rrtype == dns.TypeANY || x.Header().Rrtype == h.Rrtype
		})
	case dns.ClassNONE: // delete one record
		c := dns.Copy(rr)
		c.Header().Class, c.Header().Name = dns.ClassINET, name
		s.rrs[name] = without(s.rrs[name], func(x dns.RR) bool { return dns.IsDuplicate(x, c) })
	}
	if len(s.rrs[name]) == 0 {
		delete(s.rrs, name)
	}
}

// ofType returns the records of rrtype, optionally only those owned by name.
func ofType(rrs []dns.RR, rrtype uint16, name ...string) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == rrtype && (len(name) == 0 || dns.CanonicalName(rr.Header().Name) == name[0]) {
			out = append(out, rr)
		}
	}
	return out
}

func without(rrs []dns.RR, drop func(dns.RR) bool) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if !drop(rr) {
			out = append(out, rr)
		}
	}
	return out
}

// sameSet compares record sets by rdata, ignoring TTL and owner-name case.
func sameSet(a, b []dns.RR) bool {
	contains := func(set []dns.RR, x dns.RR) bool {
		for _, y := range set {
			xc, yc := dns.Copy(x), dns.Copy(y)
			xc.Header().Name, yc.Header().Name = dns.CanonicalName(xc.Header().Name), dns.CanonicalName(yc.Header().Name)
			xc.Header().Class, yc.Header().Class = dns.ClassINET, dns.ClassINET
			if dns.IsDuplicate(xc, yc) {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	for _, y := range b {
		if !contains(a, y) {
			return false
		}
	}
	return true
}
