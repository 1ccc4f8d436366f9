package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/ha/hatest"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/steps"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
	"github.com/understudy/understudy/standby"
)

// haTTL is the monitors' election lease in the HA tests: short, so a
// takeover after a crash takes about two seconds. E2E_HA_TTL (a Go
// duration, whole seconds) overrides it to measure takeovers with another
// lease, e.g. the default 3s.
var haTTL = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("E2E_HA_TTL")); err == nil && d >= time.Second {
		return d
	}
	return 2 * time.Second
}()

// haBound bounds every wait of the HA tests for a leader or a state.
const haBound = 30 * time.Second

// termStopBound bounds how long a monitor's leader gauge stays 1 after its
// leadership ended: the term's context is cancelled by a goroutine, then
// the term takes the controller's lock to end and the gauge drops. It
// only bounds a logged step-down time; the HA tests' safety checks are the
// overlaps, which no margin relaxes.
const termStopBound = time.Second

// haLab is one HA test's world: the lab world, a real three-member etcd
// cluster in the test process, the monitors sharing it, and a record of
// every save any monitor's executor made.
type haLab struct {
	t     *testing.T
	w     *world
	etcd  *hatest.Cluster
	dns   *countingDNS // shared by every monitor: counts successful replaces
	store *store.Etcd
	agent *standby.Client

	mu    sync.Mutex
	mons  []*haMon // live ones; a crashed monitor is removed
	saves []haSave
	armed *crashPlan
}

// haMon is one monitor running in-process with its own etcd client.
type haMon struct {
	name string
	r    *running
	cli  *clientv3.Client
}

// haSave is one record a monitor's executor persisted.
type haSave struct {
	mon string
	at  time.Time
	rec recover.Record
}

// crashPlan kills monitor mon at the first save that matches, inside the
// save hook (the step is persisted as running but has not acted). With
// onActivate it kills mon inside its agent client instead, right after the
// agent activated the standby container; with onDNS inside its DNS client,
// right after a replace succeeded at BIND: in both, before the executor
// learns the answer.
type crashPlan struct {
	mon        string
	matches    func(recover.Record) bool
	onActivate bool
	onDNS      bool
	fired      bool
	crashed    chan haCrash
}

// haAgent is one monitor's client of the standby agent, and the place
// where an onActivate crash plan fires.
type haAgent struct {
	*standby.Client
	h   *haLab
	mon string
}

func (a haAgent) Activate(ctx context.Context, epoch uint64, name string) (standby.Activation, error) {
	act, err := a.Client.Activate(ctx, epoch, name)
	if err == nil && a.h.fireInside(a.mon, func(p *crashPlan) bool { return p.onActivate }) {
		return standby.Activation{}, fmt.Errorf("monitor %s died before it learnt that the agent activated %s", a.mon, name)
	}
	return act, err
}

// haDNS is one monitor's DNS client: the shared counting client, and the
// place where an onDNS crash plan fires.
type haDNS struct {
	*countingDNS
	h   *haLab
	mon string
}

func (d haDNS) Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error {
	err := d.countingDNS.Replace(ctx, name, addrs, expect)
	if err == nil && d.h.fireInside(d.mon, func(p *crashPlan) bool { return p.onDNS }) {
		return fmt.Errorf("monitor %s died before it learnt that BIND applied the swap", d.mon)
	}
	return err
}

// haCrash is when a monitor was killed and the record that triggered it.
type haCrash struct {
	at  time.Time
	rec recover.Record
}

// newHALab builds the world (primary address base) and the etcd cluster.
func newHALab(t *testing.T, base int, modes map[string]string) *haLab {
	t.Helper()
	w := newWorld(t, base, modes)
	h := &haLab{t: t, w: w, etcd: hatest.Start(t),
		dns: &countingDNS{DNS: &steps.DNSAdapter{Client: w.dns, TTL: 10 * time.Second}}}
	h.store = store.NewEtcd(h.etcd.Client(t), "")
	tlsCfg, err := standby.ClientTLSConfig(filepath.Join(w.certs, "ca.crt"), filepath.Join(w.certs, "monitor.crt"), filepath.Join(w.certs, "monitor.key"))
	if err != nil {
		t.Fatalf("agent client TLS: %v", err)
	}
	h.agent = standby.NewClient(w.agentURL, tlsCfg)
	t.Cleanup(h.agent.Close)
	return h
}

// start runs monitor name on its own client of the given etcd endpoints
// (every member's when none).
func (h *haLab) start(name string, endpoints ...string) *haMon {
	h.t.Helper()
	m := &haMon{name: name, cli: h.etcd.Client(h.t, endpoints...)}
	m.r = h.w.startController(monitor.Options{
		Name: name, Etcd: m.cli, LeaseTTL: haTTL, DNS: haDNS{countingDNS: h.dns, h: h, mon: name},
		Agents: func(sb inventory.Standby, files monitor.TLSFiles) (monitor.Agent, error) {
			cfg, err := standby.ClientTLSConfig(files.CA, files.Cert, files.Key)
			if err != nil {
				return nil, fmt.Errorf("standby %q: %w", sb.Name, err)
			}
			return haAgent{Client: standby.NewClient(sb.Agent, cfg), h: h, mon: name}, nil
		},
		OnSave: func(rec recover.Record) { h.saved(name, rec) }, Registry: prometheus.NewRegistry(),
		Logger: h.w.log.With("side", name),
	})
	h.mu.Lock()
	h.mons = append(h.mons, m)
	h.mu.Unlock()
	return m
}

// live returns the monitors not crashed.
func (h *haLab) live() []*haMon {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.mons)
}

// saved is every monitor's OnSave hook: it records the save and fires an
// armed crash plan.
func (h *haLab) saved(mon string, rec recover.Record) {
	h.mu.Lock()
	h.saves = append(h.saves, haSave{mon: mon, at: time.Now(), rec: rec})
	p := h.armed
	fire := p != nil && !p.fired && !p.onDNS && !p.onActivate && p.mon == mon && p.matches(rec)
	var victim *haMon
	if fire {
		p.fired = true
		for _, m := range h.mons {
			if m.name == mon {
				victim = m
			}
		}
	}
	h.mu.Unlock()
	if !fire || victim == nil {
		return
	}
	p.crashed <- haCrash{at: h.crash(victim), rec: rec}
}

// fireInside fires an armed plan for monitor mon that kind selects (an
// onDNS or onActivate plan), with the last record mon saved, and reports
// whether it did.
func (h *haLab) fireInside(mon string, kind func(*crashPlan) bool) bool {
	h.mu.Lock()
	p := h.armed
	if p == nil || p.fired || !kind(p) || p.mon != mon {
		h.mu.Unlock()
		return false
	}
	p.fired = true
	var victim *haMon
	for _, m := range h.mons {
		if m.name == mon {
			victim = m
		}
	}
	var last recover.Record
	for _, s := range h.saves {
		if s.mon == mon {
			last = s.rec
		}
	}
	h.mu.Unlock()
	if victim == nil {
		return false
	}
	p.crashed <- haCrash{at: h.crash(victim), rec: last}
	return true
}

// arm makes the next matching save of monitor mon kill it (or, with onActivate or onDNS,
// its next applied DNS replace); the returned channel receives the crash.
func (h *haLab) arm(mon string, onActivate, onDNS bool, matches func(recover.Record) bool) <-chan haCrash {
	p := &crashPlan{mon: mon, matches: matches, onActivate: onActivate, onDNS: onDNS, crashed: make(chan haCrash, 1)}
	h.mu.Lock()
	h.armed = p
	h.mu.Unlock()
	return p.crashed
}

// crash kills a monitor as a dead process would: its etcd client closes
// first, so its session lease is not revoked and must expire, then its Run
// context ends. It does not wait for Run to return (the caller may be the
// monitor's own save hook); reap does.
func (h *haLab) crash(m *haMon) time.Time {
	at := time.Now()
	m.cli.Close()
	m.r.cancel()
	h.mu.Lock()
	h.mons = slices.DeleteFunc(h.mons, func(x *haMon) bool { return x == m })
	h.mu.Unlock()
	return at
}

// savesSince returns the saves recorded at or after t.
func (h *haLab) savesSince(t time.Time) []haSave {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []haSave
	for _, s := range h.saves {
		if !s.at.Before(t) {
			out = append(out, s)
		}
	}
	return out
}

// awaitLeader waits until exactly one live monitor leads, all agree on it,
// and every live monitor's status lists the live monitors, then returns the
// leader and its epoch.
func (h *haLab) awaitLeader(ctx context.Context) (*haMon, uint64, error) {
	var why string
	for {
		m, epoch, err := h.oneLeader(ctx)
		if err == nil {
			return m, epoch, nil
		}
		why = err.Error()
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("no single leader: %s: %w", why, ctx.Err())
		case <-time.After(stepWait):
		}
	}
}

// oneLeader checks once that exactly one live monitor leads.
func (h *haLab) oneLeader(ctx context.Context) (*haMon, uint64, error) {
	live := h.live()
	var leader *haMon
	for _, m := range live {
		switch v := gauge(m.r.reg, "understudy_monitor_leader"); v {
		case 1:
			if leader != nil {
				return nil, 0, fmt.Errorf("both %s and %s report understudy_monitor_leader 1", leader.name, m.name)
			}
			leader = m
		case 0:
		default:
			return nil, 0, fmt.Errorf("%s: understudy_monitor_leader = %v", m.name, v)
		}
	}
	if leader == nil {
		return nil, 0, errors.New("no monitor reports understudy_monitor_leader 1")
	}
	var epoch uint64
	for _, m := range live {
		st, err := m.r.status(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("status of %s: %w", m.name, err)
		}
		if len(st.Monitors) != len(live) {
			return nil, 0, fmt.Errorf("%s lists %d monitors, want %d: %+v", m.name, len(st.Monitors), len(live), st.Monitors)
		}
		for i, ms := range st.Monitors {
			if ms.Leader != (i == 0) || ms.Leader != (ms.Name == leader.name) {
				return nil, 0, fmt.Errorf("%s lists %+v, want %s leading first", m.name, st.Monitors, leader.name)
			}
		}
		if m == leader {
			epoch = st.Epoch
		}
	}
	if epoch == 0 {
		return nil, 0, fmt.Errorf("leader %s reports epoch 0", leader.name)
	}
	return leader, epoch, nil
}

// gauge returns the value of an unlabelled gauge or counter, -1 when absent.
func gauge(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
	}
	return -1
}

// splitBrainWatch samples the leader gauge of the live monitors every few
// milliseconds until ctx ends and returns a function that reports the
// instants when more than one claimed to lead.
func (h *haLab) splitBrainWatch(ctx context.Context) func() []string {
	var mu sync.Mutex
	var seen []string
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			var leaders []string
			for _, m := range h.live() {
				if gauge(m.r.reg, "understudy_monitor_leader") == 1 {
					leaders = append(leaders, m.name)
				}
			}
			if len(leaders) > 1 {
				mu.Lock()
				seen = append(seen, time.Now().Format("15:04:05.000")+" "+strings.Join(leaders, "+"))
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	return func() []string {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// record returns the stored record of a service (zero when never saved).
func (h *haLab) record(ctx context.Context, name string) (recover.Record, error) {
	recs, err := h.store.Load(ctx)
	if err != nil {
		return recover.Record{}, err
	}
	for _, r := range recs {
		if r.Service == name {
			return r, nil
		}
	}
	return recover.Record{}, nil
}

// closedCount counts the closed incidents with this id in the service's
// stored history.
func (h *haLab) closedCount(ctx context.Context, service, id string) (int, []recover.Incident, error) {
	hist, err := h.store.History(ctx, service)
	if err != nil {
		return 0, nil, err
	}
	n := 0
	var same []recover.Incident
	for _, inc := range hist {
		if inc.ID == id {
			n++
			same = append(same, inc)
		}
	}
	return n, same, nil
}

// awaitAgentEpoch waits until the standby agent has seen epoch (a call from
// the leader of that epoch).
func (h *haLab) awaitAgentEpoch(ctx context.Context, epoch uint64) error {
	for {
		hl, err := h.agent.Health(ctx)
		if err == nil && hl.Epoch >= epoch {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent epoch %d (err %v), want %d: %w", hl.Epoch, err, epoch, ctx.Err())
		case <-time.After(stepWait):
		}
	}
}

// soaSerial returns the zone's SOA serial at the lab's BIND: it grows by
// one with every update that changed the zone.
func soaSerial(ctx context.Context, server, zone string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return 0, fmt.Errorf("query SOA of %s at %s: %w", zone, server, err)
	}
	for _, rr := range in.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("query SOA of %s at %s: no SOA in %s answer", zone, server, dns.RcodeToString[in.Rcode])
}

// awaitUp waits until every live monitor sees the service's target up.
func (h *haLab) awaitUp(ctx context.Context, service string) error {
	for _, m := range h.live() {
		if err := m.r.waitMetric(ctx, "understudy_probe_target_up", "service/"+service, func(v float64) bool { return v == 1 }); err != nil {
			return fmt.Errorf("monitor %s: %w", m.name, err)
		}
	}
	return nil
}
