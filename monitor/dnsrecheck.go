package monitor

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// dnsRecheckInterval is how often the leader asks the dns.verify servers
// again about services whose last DNS change they did not answer in time,
// and dnsRecheckTimeout bounds one such question (all servers of one
// service, in parallel).
const (
	dnsRecheckInterval = 30 * time.Second
	dnsRecheckTimeout  = 2 * time.Second
)

// dnsRechecker clears understudy_monitor_service_dns_unverified once the
// dns.verify servers catch up: the dns-replace step's verification gave up
// at its deadline, but a lagging secondary usually converges later, and the
// alert should then resolve without waiting for the service's next DNS
// change. It remembers, per service, the DNS change (incident and flip
// time) every server now answers.
type dnsRechecker struct {
	verify executor.DNSVerifier
	mu     sync.Mutex
	caught map[string]dnsChange // service -> the change its servers now answer
}

// dnsChange names one DNS change of a service: its incident and the time of
// its last flip phase.
type dnsChange struct {
	incident string
	at       time.Time
}

func newDNSRechecker(v executor.DNSVerifier) *dnsRechecker {
	return &dnsRechecker{verify: v, caught: map[string]dnsChange{}}
}

// lastChange is the record's last DNS change (ok false without one).
func lastChange(rec recover.Record) (dnsChange, bool) {
	if rec.Incident == nil {
		return dnsChange{}, false
	}
	ch, ok := dnsChange{incident: rec.Incident.ID}, false
	for _, ph := range rec.Incident.Phases {
		if ph.Phase == "dns-flipped" || ph.Phase == "dns-reset" {
			ch.at, ok = ph.At, true
		}
	}
	return ch, ok
}

// caughtUp reports whether every dns.verify server was seen answering the
// record's last DNS change after its verification gave up. It accepts a
// nil receiver (no rechecks: false).
func (d *dnsRechecker) caughtUp(rec recover.Record) bool {
	if d == nil {
		return false
	}
	ch, ok := lastChange(rec)
	if !ok {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.caught[rec.Service] == ch
}

// check asks the dns.verify servers once, within dnsRecheckTimeout per
// service, whether they answer the placement address of each record whose
// last change is still unverified, and remembers those they all answer.
// fqdn returns a service's DNS name ("" when it is no longer configured).
func (d *dnsRechecker) check(ctx context.Context, recs []recover.Record, fqdn func(string) string) {
	now := time.Now()
	for _, rec := range recs {
		name := fqdn(rec.Service)
		if name == "" || !rec.Placement.Address.IsValid() || !signalsOf(rec, true, now).unverified || d.caughtUp(rec) {
			continue
		}
		ch, _ := lastChange(rec)
		vctx, cancel := context.WithTimeout(ctx, dnsRecheckTimeout)
		results := d.verify.VerifyDNS(vctx, name, []netip.Addr{rec.Placement.Address})
		cancel()
		if len(results) == 0 || slices.ContainsFunc(results, func(r executor.DNSServerResult) bool { return r.Err != nil }) {
			continue
		}
		d.mu.Lock()
		d.caught[rec.Service] = ch
		d.mu.Unlock()
	}
}

// run rechecks every dnsRecheckInterval until ctx ends; records returns
// the records of the term in force.
func (d *dnsRechecker) run(ctx context.Context, records func() []recover.Record, fqdn func(string) string) {
	t := time.NewTicker(dnsRecheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.check(ctx, records(), fqdn)
		}
	}
}

// recheckDNS runs the term's DNS rechecks while the inventory has
// dns.verify servers (each round reads the inventory in force).
func (c *Controller) recheckDNS(t *term) func(context.Context) {
	return func(ctx context.Context) {
		t.dnsCheck.run(ctx, func() []recover.Record {
			if len(c.plan().Inv.DNS.Verify) == 0 {
				return nil
			}
			return t.exec.Records()
		}, func(service string) string {
			return c.plan().Services[service].Service.FQDN
		})
	}
}
