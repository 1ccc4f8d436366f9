package dnsupdate

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/internal/labtest"
)

// wireCase is one request of the README's per-server table and the answer
// each server gives it ("RCODE, TSIG" as wireAnswer writes it), by server.
type wireCase struct {
	name string
	want map[string]string
}

// wireWant is the README's table, by case and server.
var wireWant = []wireCase{
	{"update applied", all("NOERROR, signed")},
	{"failed prerequisite", all("NXRRSET, signed")},
	{"wrong secret", map[string]string{labtest.DNSBind: "NOTAUTH, TSIG BADSIG, no MAC", labtest.DNSKnot: "NOTAUTH, TSIG BADSIG, no MAC", labtest.DNSPDNS: "REFUSED, unsigned"}},
	{"unknown key name", map[string]string{labtest.DNSBind: "NOTAUTH, TSIG BADKEY, no MAC", labtest.DNSKnot: "NOTAUTH, TSIG BADKEY, no MAC", labtest.DNSPDNS: "REFUSED, unsigned"}},
	{"unsigned update", map[string]string{labtest.DNSBind: "REFUSED, unsigned", labtest.DNSKnot: "NOTAUTH, unsigned", labtest.DNSPDNS: "REFUSED, unsigned"}},
	{"clock 1 h off", map[string]string{labtest.DNSBind: "NOTAUTH, TSIG BADTIME, signed", labtest.DNSKnot: "NOTAUTH, TSIG BADTIME, signed", labtest.DNSPDNS: "REFUSED, unsigned"}},
	{"zone not served", map[string]string{labtest.DNSBind: "NOTAUTH, signed", labtest.DNSKnot: "NOTAUTH, unsigned", labtest.DNSPDNS: "NOTAUTH, signed"}},
	{"signed query", all("NOERROR, signed, AA")},
	{"signed query, wrong secret", map[string]string{labtest.DNSBind: "NOTAUTH, TSIG BADSIG, no MAC", labtest.DNSKnot: "NOTAUTH, TSIG BADSIG, no MAC", labtest.DNSPDNS: "NOTAUTH, unsigned"}},
	{"signed query, clock 1 h off", map[string]string{labtest.DNSBind: "NOTAUTH, TSIG BADTIME, signed", labtest.DNSKnot: "NOTAUTH, TSIG BADTIME, signed", labtest.DNSPDNS: "NOTAUTH, unsigned"}},
}

func all(s string) map[string]string {
	return map[string]string{labtest.DNSBind: s, labtest.DNSKnot: s, labtest.DNSPDNS: s}
}

// TestIntegrationWireBehaviour reproduces dnsupdate/README.md's table of
// each server's answers: it sends each case's request once, reads the raw
// reply without verifying it, and logs and checks its rcode (with the TSIG
// error), whether it carries a MAC, and the AA bit of a query answer.
// `go test -v -run TestIntegrationWireBehaviour ./dnsupdate/` prints one
// "wire: SERVER | CASE | ANSWER" line per cell.
func TestIntegrationWireBehaviour(t *testing.T) {
	forEachServer(t, func(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer) {
		c, name := serverFixture(t, lab, srv, "wire")
		if err := c.Replace(context.Background(), name, addrs("10.200.0.105"), 10*time.Second, nil); err != nil {
			t.Fatal(err)
		}
		wrongSecret, _ := testKey(t, c.key.Name, c.key.Algorithm)
		unknownName, _ := testKey(t, "t-dns-unknown-key", "")
		update := func(zone string, prereq bool) func() *dns.Msg {
			return func() *dns.Msg {
				m := new(dns.Msg)
				m.SetUpdate(zone)
				if prereq {
					rr, _ := dns.NewRR(name + " 10 IN A 10.200.9.9")
					m.Used([]dns.RR{rr})
				}
				rr, _ := dns.NewRR(name + " 10 IN A 10.200.0.105")
				m.Insert([]dns.RR{rr})
				return m
			}
		}
		query := func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			m.RecursionDesired = false
			return m
		}
		requests := map[string]struct {
			key   *Key
			skew  time.Duration
			build func() *dns.Msg
		}{
			"update applied":              {c.key, 0, update(lab.Zone, false)},
			"failed prerequisite":         {c.key, 0, update(lab.Zone, true)},
			"wrong secret":                {wrongSecret, 0, update(lab.Zone, false)},
			"unknown key name":            {unknownName, 0, update(lab.Zone, false)},
			"unsigned update":             {nil, 0, update(lab.Zone, false)},
			"clock 1 h off":               {c.key, -time.Hour, update(lab.Zone, false)},
			"zone not served":             {c.key, 0, update("t-dns-absent.test.", false)},
			"signed query":                {c.key, 0, query},
			"signed query, wrong secret":  {wrongSecret, 0, query},
			"signed query, clock 1 h off": {c.key, -time.Hour, query},
		}
		for _, wc := range wireWant {
			rq := requests[wc.name]
			k, err := New(Config{Server: srv.Addr, Zone: lab.Zone, Key: rq.key, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			k.clock = clocktest.Skewed(rq.skew)
			got, err := rawAnswer(t.Context(), k, srv.Addr, rq.build(), rq.key != nil)
			if err != nil {
				t.Errorf("%s: %v", wc.name, err)
				continue
			}
			t.Logf("wire: %s | %s | %s", srv.Name, wc.name, got)
			if want := wc.want[srv.Name]; got != want {
				t.Errorf("%s at %s (%s): %q, want %q as the README's table says", wc.name, srv.Name, srv.Product, got, want)
			}
		}
	})
}

// rawAnswer sends m once over UDP, signed by k when sign is set, and
// describes the first reply with m's ID as read off the wire: its rcode
// (the TSIG error beside it), "signed" when its TSIG has a MAC, "no MAC"
// when it has a TSIG without one, "unsigned" without TSIG, and "AA" for an
// authoritative query answer.
func rawAnswer(ctx context.Context, k *Client, server string, m *dns.Msg, sign bool) (string, error) {
	out, _, err := k.pack(m, sign)
	if err != nil {
		return "", fmt.Errorf("pack: %w", err)
	}
	var d net.Dialer
	co, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return "", err
	}
	defer co.Close()
	co.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := co.Write(out); err != nil {
		return "", err
	}
	buf := make([]byte, 65535)
	for {
		n, err := co.Read(buf)
		if err != nil {
			return "", fmt.Errorf("no reply: %w", err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil || r.Id != m.Id {
			continue
		}
		s := dns.RcodeToString[r.Rcode]
		if tsig := r.IsTsig(); tsig == nil {
			s += ", unsigned"
		} else {
			if tsig.Error != dns.RcodeSuccess {
				s += ", TSIG " + dns.RcodeToString[int(tsig.Error)]
			}
			if tsig.MACSize == 0 {
				s += ", no MAC"
			} else {
				s += ", signed"
			}
		}
		if m.Opcode == dns.OpcodeQuery && r.Rcode == dns.RcodeSuccess && r.Authoritative {
			s += ", AA"
		}
		return s, nil
	}
}
