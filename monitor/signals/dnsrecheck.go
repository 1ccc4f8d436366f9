package signals

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/internal/clock"
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

// Rechecker clears understudy_monitor_service_dns_unverified once the
// dns.verify servers catch up: the dns-replace step's verification gave up
// at its deadline, but a lagging secondary usually converges later, and the
// alert should then resolve without waiting for the service's next DNS
// change. It remembers, per service, the DNS change (incident and flip
// time) every server now answers.
type Rechecker struct {
	verify executor.DNSVerifier
	clock  clock.Clock
	mu     sync.Mutex
	caught map[string]dnsChange // service -> the change its servers now answer
}

// dnsChange names one DNS change of a service: its incident and the time of
// its last flip phase.
type dnsChange struct {
	incident string
	at       time.Time
}

// NewRechecker returns the rechecker of one term, asking v and timed by clk
// (nil: clock.Wall).
func NewRechecker(v executor.DNSVerifier, clk clock.Clock) *Rechecker {
	if clk == nil {
		clk = clock.Wall
	}
	return &Rechecker{verify: v, clock: clk, caught: map[string]dnsChange{}}
}

// lastChange is the record's last DNS change (ok false without one).
func lastChange(rec recover.Record) (dnsChange, bool) {
	if rec.Incident == nil {
		return dnsChange{}, false
	}
	ch, ok := dnsChange{incident: rec.Incident.ID}, false
	for _, ph := range rec.Incident.Phases {
		if ph.Phase == recover.PhaseDNSFlipped || ph.Phase == recover.PhaseDNSReset {
			ch.at, ok = ph.At, true
		}
	}
	return ch, ok
}

// CaughtUp reports whether every dns.verify server was seen answering the
// record's last DNS change after its verification gave up. It accepts a
// nil receiver (no rechecks: false).
func (d *Rechecker) CaughtUp(rec recover.Record) bool {
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

// Check asks the dns.verify servers once, within dnsRecheckTimeout per
// service, whether they answer the placement address of each record whose
// last change is still unverified, and remembers those they all answer.
// fqdn returns a service's DNS name ("" when it is no longer configured).
func (d *Rechecker) Check(ctx context.Context, recs []recover.Record, fqdn func(string) string) {
	now := d.clock.Now()
	for _, rec := range recs {
		name := fqdn(rec.Service)
		if name == "" || !rec.Placement.Address.IsValid() || !Of(rec, true, now).Unverified || d.CaughtUp(rec) {
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

// Run rechecks every dnsRecheckInterval until ctx ends; records returns
// the records of the term in force.
func (d *Rechecker) Run(ctx context.Context, records func() []recover.Record, fqdn func(string) string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.clock.After(dnsRecheckInterval):
			d.Check(ctx, records(), fqdn)
		}
	}
}
