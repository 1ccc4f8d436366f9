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
// the zone and the NOTAUTH was a refusal (ErrRefused); when it does not, the
// zone is not served there (ErrNotAuth). err is the error so far: ErrNotAuth,
// or ErrBadKey when the only replies were unsigned NOTAUTH ones. It is kept
// when the question cannot be answered or agrees with it.
func (c *Client) explainNotAuth(ctx context.Context, at, server string, signed bool, err error) error {
	served, perr := c.zoneServed(ctx, server)
	if perr != nil {
		c.log.Debug("could not ask whether the server serves the zone", "err", perr)
		return err
	}
	switch {
	case served && errors.Is(err, ErrNotAuth) && !signed:
		return &dnsError{kind: ErrRefused, msg: fmt.Sprintf(
			"%s: the server refused an unsigned update (NOTAUTH, while it serves zone %q: Knot DNS answers so when its ACL denies an update): configure the zone's TSIG key", at, c.zone)}
	case served && errors.Is(err, ErrNotAuth):
		return &dnsError{kind: ErrRefused, msg: fmt.Sprintf(
			"%s: the server refused the update signed with %s (NOTAUTH, while it serves zone %q: Knot DNS answers so when its ACL denies an update): check that the zone's ACL (update-policy, allow-update, TSIG-ALLOW-DNSUPDATE) lets this key update it", at, c.keyDesc(), c.zone)}
	case !served && errors.Is(err, ErrBadKey):
		return &dnsError{kind: ErrNotAuth, msg: fmt.Sprintf(
			"%s: the server is not authoritative for the zone (an unsigned NOTAUTH to the signed update, which Knot DNS sends for a zone it does not serve, and it does not answer the zone's SOA with authority; both unsigned, so they could also be forged): check the server address and the zone name", at)}
	}
	return err
}

// zoneServed asks server, unsigned and without recursion, for the zone's
// SOA and reports whether it answered with authority.
func (c *Client) zoneServed(ctx context.Context, server string) (bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(c.zone, dns.TypeSOA)
	m.RecursionDesired = false
	r, err := c.send(ctx, "udp", server, false, m)
	if err != nil {
		return false, fmt.Errorf("ask %s for the SOA of %q: %w", server, c.zone, err)
	}
	return r.Authoritative && r.Rcode == dns.RcodeSuccess, nil
}
