package dnsupdate

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// notAuthReply reports whether an update ended on a NOTAUTH answer without
// a TSIG error: an accepted reply r (unsigned to an unsigned request, or
// verified), or, to a signed request, only unsigned NOTAUTH replies that
// were dropped.
func notAuthReply(r *dns.Msg, dropped *droppedReply) bool {
	if dropped != nil {
		return dropped.unsigned && dropped.rcode == dns.RcodeNotAuth
	}
	if r == nil || r.Rcode != dns.RcodeNotAuth {
		return false
	}
	t := r.IsTsig()
	return t == nil || t.Error == dns.RcodeSuccess
}

// explainNotAuth tells the two meanings of NOTAUTH to an update apart.
// BIND and PowerDNS answer NOTAUTH for a zone they do not serve, and
// REFUSED for an update they do not allow; Knot DNS answers NOTAUTH, unsigned,
// to both (an update its ACL denies, such as an unsigned one, and one for a
// zone it does not serve). So the server is asked, unsigned and without
// recursion, for the zone's SOA: when it answers with authority, it serves
// the zone and the NOTAUTH was a refusal (ErrRefused), by its ACL or because
// it is a secondary of the zone (a secondary answers the SOA with authority
// too; the message names the SOA's primary, MNAME, to compare); when it does
// not, the zone is not served there (ErrNotAuth). err is the error so far:
// ErrNotAuth, or ErrBadKey when the only replies were unsigned NOTAUTH ones.
// It is kept when the question cannot be answered or agrees with it, and
// wrapped as the cause of the explained error otherwise (so that error
// matches err's sentinel as well as its own).
func (c *Client) explainNotAuth(ctx context.Context, at, server string, signed bool, err error) error {
	soa, perr := c.zoneServed(ctx, server)
	if perr != nil {
		c.log.Debug("could not ask whether the server serves the zone", "err", perr)
		return err
	}
	served := soa != nil
	secondary := ""
	if served {
		secondary = fmt.Sprintf("; or this server is a secondary of the zone, which may not take updates: its SOA names %s as the primary, send updates there", soa.Ns)
	}
	switch {
	case served && errors.Is(err, ErrNotAuth) && !signed:
		return &dnsError{kind: ErrRefused, cause: err, msg: fmt.Sprintf(
			"%s: the server refused an unsigned update (NOTAUTH, while it serves zone %q: Knot DNS answers so when its ACL denies an update): configure the zone's TSIG key%s", at, c.zone, secondary)}
	case served && errors.Is(err, ErrNotAuth):
		return &dnsError{kind: ErrRefused, cause: err, msg: fmt.Sprintf(
			"%s: the server refused the update signed with %s (NOTAUTH, while it serves zone %q: Knot DNS answers so when its ACL denies an update): check that the zone's ACL (update-policy, allow-update, TSIG-ALLOW-DNSUPDATE) lets this key update it%s", at, c.keyDesc(), c.zone, secondary)}
	case !served && errors.Is(err, ErrBadKey):
		return &dnsError{kind: ErrNotAuth, cause: err, msg: fmt.Sprintf(
			"%s: the server is not authoritative for the zone (an unsigned NOTAUTH to the signed update, which Knot DNS sends for a zone it does not serve, and it does not answer the zone's SOA with authority; both unsigned, so they could also be forged): check the server address and the zone name", at)}
	}
	return err
}

// zoneServed asks server, unsigned and without recursion, for the zone's
// SOA and returns it when the server answered with authority (nil when it
// did not: it does not serve the zone).
func (c *Client) zoneServed(ctx context.Context, server string) (*dns.SOA, error) {
	m := new(dns.Msg)
	m.SetQuestion(c.zone, dns.TypeSOA)
	m.RecursionDesired = false
	r, err := c.send(ctx, "udp", server, false, m)
	if err != nil {
		return nil, fmt.Errorf("ask %s for the SOA of %q: %w", server, c.zone, err)
	}
	if !r.Authoritative || r.Rcode != dns.RcodeSuccess {
		return nil, nil
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa, nil
		}
	}
	return &dns.SOA{Ns: "(no SOA in its answer)"}, nil
}
