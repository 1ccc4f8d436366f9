package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/recover/store"
)

// DefaultElectionPrefix is where the monitors' candidacies live, as
// <prefix>/<lease id>; the candidate with the oldest key leads. It sits
// beside recover's keys.
const DefaultElectionPrefix = store.DefaultPrefix + "leader"

// DefaultTTL is the session lease: a leader that cannot renew it for this
// long stops leading, and another monitor takes over about this long after
// a leader dies (3.2 s measured with 3 s).
const DefaultTTL = 3 * time.Second

// errNoSession: a session could not be opened; Campaign tries again.
var errNoSession = errors.New("no session")

// Config configures an Elector.
type Config struct {
	// Client talks to the etcd cluster all monitors share (external, or an
	// embedded member from StartPeers).
	Client *clientv3.Client
	// Name identifies this monitor (required); Address is its API address.
	// Both are published while it leads.
	Name    string
	Address string
	// Prefix is the election prefix, without the trailing slash (default
	// DefaultElectionPrefix).
	Prefix string
	// TTL is the session lease (default DefaultTTL), rounded up to whole
	// seconds, the unit of etcd leases.
	TTL    time.Duration
	Logger *slog.Logger // default slog.Default()
	Clock  clock.Clock  // tells the time a leadership began (default clock.Wall)
}

// Elector is one monitor's candidacy. A monitor keeps one Elector for its
// life, calls Campaign whenever it is not leading, and Close when it stops.
// Campaign and Resign must not be called concurrently with each other;
// Leader, Observe and the Leadership's methods may be called from anywhere.
type Elector struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	closed   bool
	session  *concurrency.Session
	election *concurrency.Election
	lead     *Leadership
	stop     context.CancelFunc // stops the current leadership's watcher
	wg       sync.WaitGroup
}

// NewElector checks cfg and returns an Elector; it does no I/O.
func NewElector(cfg Config) (*Elector, error) {
	if cfg.Client == nil {
		return nil, errors.New("new elector: no etcd client")
	}
	if cfg.Name == "" {
		return nil, errors.New("new elector: no monitor name")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultElectionPrefix
	}
	cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	return &Elector{cfg: cfg, log: cfg.Logger.With("component", "ha", "monitor", cfg.Name)}, nil
}

// ttlSeconds is the lease TTL in whole seconds, at least 1.
func (e *Elector) ttlSeconds() int {
	return max(1, int(math.Ceil(e.cfg.TTL.Seconds())))
}

// Campaign blocks until this monitor leads, then publishes its name,
// address and the time it won, and returns the Leadership. When it already
// leads, it returns the current Leadership. A lost session (etcd
// unreachable for a TTL) is replaced and the campaign goes on; only ctx
// ending or Close stops it.
func (e *Elector) Campaign(ctx context.Context) (*Leadership, error) {
	for {
		l, retry, err := e.campaignOnce(ctx)
		if !retry {
			return l, err
		}
		e.log.Warn("campaign interrupted; campaigning again", "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("campaign as %q: %w", e.cfg.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// campaignOnce runs one campaign on the current session; retry says the
// session or the key was lost meanwhile.
func (e *Elector) campaignOnce(ctx context.Context) (l *Leadership, retry bool, err error) {
	el, sess, cur, err := e.prepare(ctx)
	if cur != nil || err != nil {
		return cur, errors.Is(err, errNoSession) && ctx.Err() == nil, err
	}
	if err := el.Campaign(ctx, e.value(time.Time{})); err != nil {
		if ctx.Err() != nil {
			return nil, false, fmt.Errorf("campaign as %q: %w", e.cfg.Name, ctx.Err())
		}
		return nil, true, fmt.Errorf("campaign as %q: %w", e.cfg.Name, err)
	}
	since := e.cfg.Clock.Now()
	// Proclaim is guarded by the leader key: it fails when the key expired
	// while the campaign waited, which Campaign alone does not notice.
	if err := el.Proclaim(ctx, e.value(since)); err != nil {
		if ctx.Err() != nil {
			return nil, false, fmt.Errorf("campaign as %q: %w", e.cfg.Name, ctx.Err())
		}
		return nil, true, fmt.Errorf("publish leadership of %q: %w", e.cfg.Name, err)
	}
	// Renew once more: its send time bounds when etcd may expire the lease.
	valid, err := e.renew(ctx, sess.Lease(), time.Duration(e.ttlSeconds())*time.Second)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, fmt.Errorf("campaign as %q: %w", e.cfg.Name, ctx.Err())
		}
		return nil, true, err
	}
	l = newLeadership(el.Key(), el.Rev(), since)
	l.setRenewed(valid.Add(-e.validity()))
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		l.end(lostClosed)
		return nil, false, fmt.Errorf("campaign as %q: elector closed", e.cfg.Name)
	}
	if e.stop != nil {
		e.stop() // the previous term's watcher, already ending
	}
	wctx, stop := context.WithCancel(context.Background())
	e.lead, e.stop = l, stop
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.watch(wctx, sess, l, valid)
	}()
	e.log.Info("leading", "key", l.Key, "epoch", l.Rev)
	return l, false, nil
}

// prepare returns the election to campaign in, with a live session, or the
// current leadership when it still holds.
func (e *Elector) prepare(ctx context.Context) (*concurrency.Election, *concurrency.Session, *Leadership, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, nil, nil, fmt.Errorf("campaign as %q: elector closed", e.cfg.Name)
	}
	if e.lead != nil {
		switch e.lead.Lost() {
		case "":
			return nil, nil, e.lead, nil
		case lostResign:
		default: // the watcher revokes that term's session
			e.session, e.election = nil, nil
		}
		e.lead = nil
	}
	if e.session != nil {
		select {
		case <-e.session.Done():
			e.session, e.election = nil, nil
		default:
		}
	}
	if e.session == nil {
		s, err := e.newSession(ctx)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open etcd session for %q: %w: %w", e.cfg.Name, errNoSession, err)
		}
		e.session, e.election = s, concurrency.NewElection(s, e.cfg.Prefix)
	}
	return e.election, e.session, nil, nil
}

// value is what the leader key holds: the monitor's name and address, and
// since when it leads (zero while campaigning).
func (e *Elector) value(since time.Time) string {
	b, _ := json.Marshal(Leader{Name: e.cfg.Name, Address: e.cfg.Address, Since: since})
	return string(b)
}

// Resign gives up the leadership, if held, so another monitor takes over at
// once; Done closes. The session stays for the next Campaign.
func (e *Elector) Resign(ctx context.Context) error {
	e.mu.Lock()
	l, el := e.lead, e.election
	e.mu.Unlock()
	if l == nil || l.Lost() != "" || el == nil {
		return nil
	}
	l.end(lostResign)
	if err := el.Resign(ctx); err != nil {
		return fmt.Errorf("resign leadership of %q: %w", e.cfg.Name, err)
	}
	e.log.Info("resigned", "epoch", l.Rev)
	return nil
}

// Close ends the leadership, revokes the session lease (another monitor
// takes over at once) and stops the Elector's goroutines. It does not
// close the client.
func (e *Elector) Close() error {
	e.mu.Lock()
	e.closed = true
	l, stop, s := e.lead, e.stop, e.session
	e.session, e.election = nil, nil
	e.mu.Unlock()
	if l != nil {
		l.end(lostClosed)
	}
	if stop != nil {
		stop()
	}
	var err error
	if s != nil {
		if cerr := s.Close(); cerr != nil {
			err = fmt.Errorf("close etcd session of %q: %w", e.cfg.Name, cerr)
		}
	}
	e.wg.Wait()
	return err
}

// newSession grants the lease under ctx (so an unreachable etcd does not
// hold Campaign past ctx) and keeps it alive for the client's life.
func (e *Elector) newSession(ctx context.Context) (*concurrency.Session, error) {
	ttl := e.ttlSeconds()
	g, err := e.cfg.Client.Grant(ctx, int64(ttl))
	if err != nil {
		return nil, err
	}
	return concurrency.NewSession(e.cfg.Client, concurrency.WithTTL(ttl), concurrency.WithLease(g.ID))
}
