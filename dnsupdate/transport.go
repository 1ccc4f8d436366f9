package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// droppedReply is why send discarded the replies it read: it is the error of
// an attempt in which no acceptable reply came before the deadline.
type droppedReply struct {
	rcode     int    // the dropped reply's rcode
	tsigErr   uint16 // the TSIG error it carried, when it had a TSIG record
	unsigned  bool   // it had no TSIG record at all
	malformed bool   // it could not be decoded (cause says why)
	cause     error  // why its TSIG did not verify
}

func (d *droppedReply) Error() string {
	switch {
	case d.malformed:
		return fmt.Sprintf("reply dropped: %v", d.cause)
	case d.unsigned:
		return fmt.Sprintf("unsigned %s reply dropped", dns.RcodeToString[d.rcode])
	case d.cause != nil:
		return fmt.Sprintf("%s reply dropped: its TSIG does not verify: %v", dns.RcodeToString[d.rcode], d.cause)
	}
	return fmt.Sprintf("%s reply dropped", dns.RcodeToString[d.rcode])
}

// send does one exchange over network ("udp" or "tcp"): it writes m, signed
// with the client's key when sign is set, and reads until an acceptable reply
// arrives or the attempt's deadline (Config.Timeout, or ctx's if sooner)
// passes. Replies with another ID are skipped. To a signed request, only a
// reply whose TSIG verifies with the key and the request's MAC is accepted:
// an unsigned reply, or one whose TSIG does not verify (a BADKEY or BADSIG
// error carries no MAC), is dropped and the wait goes on, as RFC 8945 §5.3.3
// asks, so a forged reply cannot decide the outcome. When only dropped
// replies came, the error is a *droppedReply describing the last one.
func (c *Client) send(ctx context.Context, network, server string, sign bool, m *dns.Msg) (*dns.Msg, error) {
	dc := &dns.Client{Net: network, Timeout: c.timeout}
	co, err := dc.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	co.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { co.SetDeadline(time.Unix(1, 0)) }) // a cancel ends the read
	defer stop()
	co.UDPSize = dns.DefaultMsgSize
	if opt := m.IsEdns0(); opt != nil && opt.UDPSize() > co.UDPSize {
		co.UDPSize = opt.UDPSize()
	}
	out, reqMAC, err := c.pack(m, sign)
	if err != nil {
		return nil, fmt.Errorf("pack the request: %w", err)
	}
	if _, err := co.Write(out); err != nil {
		return nil, err
	}
	var dropped *droppedReply
	for {
		p, err := co.ReadMsgHeader(nil)
		if err != nil {
			if dropped != nil && ctx.Err() == nil {
				return nil, dropped
			}
			return nil, err
		}
		r, drop, err := c.accept(p, m.Id, sign, reqMAC)
		switch {
		case drop == nil:
			return r, err
		case drop.rcode >= 0: // -1: another ID or not a reply, skipped silently
			dropped = drop
			c.log.Warn("dropped a reply that is not a verified answer to the signed request", "network", network, "reason", drop.Error())
		}
	}
}

// pack encodes m, signed when sign is set, and returns the request's MAC,
// which the reply's signature covers.
func (c *Client) pack(m *dns.Msg, sign bool) ([]byte, string, error) {
	if !sign {
		out, err := m.Pack()
		return out, "", err
	}
	m.SetTsig(c.key.Name, dns.Fqdn(c.key.Algorithm), tsigFudge, c.clock.Now().Unix())
	return dns.TsigGenerateWithProvider(m, c.key.provider(), "", false)
}

// accept decodes one message read for the request with ID id. It returns the
// reply (with dns.ErrTime for a signed reply outside the time window: its MAC
// verified, so it is genuine), or a non-nil drop when the message must be
// ignored.
func (c *Client) accept(p []byte, id uint16, sign bool, reqMAC string) (*dns.Msg, *droppedReply, error) {
	r := new(dns.Msg)
	if err := r.Unpack(p); err != nil {
		if r.Id != id {
			return nil, &droppedReply{rcode: -1}, nil
		}
		return nil, &droppedReply{rcode: r.Rcode, malformed: true, cause: fmt.Errorf("malformed: %w", err)}, nil
	}
	if r.Id != id || !r.Response {
		return nil, &droppedReply{rcode: -1}, nil
	}
	if !sign {
		return r, nil, nil
	}
	t := r.IsTsig()
	if t == nil {
		return nil, &droppedReply{rcode: r.Rcode, unsigned: true}, nil
	}
	err := c.verifyReply(p, reqMAC)
	switch {
	case err == nil:
		return r, nil, nil
	case errors.Is(err, dns.ErrTime):
		return r, nil, err
	}
	return nil, &droppedReply{rcode: r.Rcode, tsigErr: t.Error, cause: err}, nil
}

// verifyReply checks the TSIG of the raw reply p. miekg/dns refuses to
// verify any NOTAUTH reply (it returns dns.ErrAuth unchecked), so for those
// the rcode is cleared in a copy for the library's parser and put back
// inside the provider, before the MAC is computed over the bytes that were
// actually received.
func (c *Client) verifyReply(p []byte, reqMAC string) error {
	var prov dns.TsigProvider = c.key.provider()
	if rcode := p[3] & 0x0F; rcode == dns.RcodeNotAuth {
		p = slices.Clone(p)
		p[3] &^= 0x0F
		prov = rcodeRestorer{inner: prov, rcode: rcode, at: 3 + macWireLen(reqMAC)}
	}
	return dns.TsigVerifyWithProvider(p, prov, reqMAC, false)
}

// macWireLen is the length of the request MAC's wire form (size, then MAC)
// that precedes the reply in the data its TSIG signs (RFC 8945 §4.3.1).
func macWireLen(reqMAC string) int {
	if reqMAC == "" {
		return 0
	}
	return 2 + len(reqMAC)/2
}

// rcodeRestorer puts the header's rcode back into the signed data before
// the wrapped provider verifies it.
type rcodeRestorer struct {
	inner dns.TsigProvider
	rcode byte
	at    int // offset of the header byte holding the rcode
}

func (r rcodeRestorer) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	return r.inner.Generate(msg, t)
}

func (r rcodeRestorer) Verify(msg []byte, t *dns.TSIG) error {
	if r.at >= len(msg) {
		return dns.ErrSig
	}
	msg = slices.Clone(msg)
	msg[r.at] = msg[r.at]&^0x0F | r.rcode
	return r.inner.Verify(msg, t)
}
