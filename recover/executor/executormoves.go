package executor

import (
	"context"
	"errors"
	"fmt"

	"github.com/understudy/understudy/recover"
)

// ErrBusy: the migration limit (Config.MaxMigrations) stayed
// reached until the caller's context ended. Try again later.
var ErrBusy = errors.New("migration limit reached")

// Migrate moves service from the standby to the spare named to (see the
// Migrate event). It waits for a migration slot (at most MaxMigrations run
// at once) until ctx ends, then returns ErrBusy; it returns once the
// machine took the request, not when the migration ends, with
// ErrIllegalTransition when the service is not on the standby. Joining the
// service's open migration takes no slot.
func (e *Executor) Migrate(ctx context.Context, service, to string, src recover.Source, reason string) error {
	e.mu.Lock()
	_, joining := e.migrating[service]
	rec, known := e.records[service]
	e.mu.Unlock()
	if !joining && (!known || (rec.State != recover.OnStandby && rec.State != recover.Stuck)) {
		// Refuse at once what the machine would refuse, rather than wait for a slot.
		return e.send(ctx, service, recover.Migrate{At: e.cfg.Clock.Now(), Source: src, Reason: reason, To: to})
	}
	if !joining {
		select {
		case e.slots <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("migrate %q: %d migration(s) running: %w", service, cap(e.slots), ErrBusy)
		}
		e.mu.Lock()
		if _, ok := e.migrating[service]; ok {
			<-e.slots // a concurrent call took the slot for this service
		} else {
			e.migrating[service] = true
		}
		e.mu.Unlock()
	}
	err := e.send(ctx, service, recover.Migrate{At: e.cfg.Clock.Now(), Source: src, Reason: reason, To: to})
	if err != nil {
		e.mu.Lock()
		e.releaseSlot(service)
		e.mu.Unlock()
	}
	return err
}

// Failback moves service from the standby or a spare back to its primary
// (see the Failback event). It returns once the machine took the request,
// with ErrIllegalTransition when the service is on its primary or busy.
func (e *Executor) Failback(ctx context.Context, service string, src recover.Source, reason string) error {
	return e.send(ctx, service, recover.Failback{At: e.cfg.Clock.Now(), Source: src, Reason: reason})
}

// Due returns, for every configured service with something due, what its
// MovePolicy advises now given the caller's facts (keyed by service; a
// missing entry is no facts). See the Due function.
func (e *Executor) Due(facts map[string]recover.Facts) map[string]recover.Decision {
	now := e.cfg.Clock.Now()
	out := map[string]recover.Decision{}
	for _, rec := range e.Records() {
		e.mu.Lock()
		cfg, ok := e.config(rec.Service)
		e.mu.Unlock()
		if !ok {
			continue
		}
		if d := recover.Due(rec, cfg.Moves, facts[rec.Service], now); d.Kind != "" {
			out[rec.Service] = d
		}
	}
	return out
}

// openMigration reports whether rec has a migration that is still open
// (running or stuck: a copy may exist until it is closed).
func openMigration(rec recover.Record) bool {
	return rec.Incident.Open() && rec.Incident.Kind == recover.KindMigrate
}

// releaseSlot gives back service's migration slot unless its migration is
// still open. e.mu is held.
func (e *Executor) releaseSlot(service string) {
	held, ok := e.migrating[service]
	if !ok || openMigration(e.records[service]) {
		return
	}
	delete(e.migrating, service)
	if held {
		<-e.slots
	}
}

// resumeSlot takes a slot for a migration found open at start; past the
// limit (it was lowered) the migration goes on without one. e.mu is held.
func (e *Executor) resumeSlot(rec recover.Record) {
	if !openMigration(rec) {
		return
	}
	select {
	case e.slots <- struct{}{}:
		e.migrating[rec.Service] = true
	default:
		e.migrating[rec.Service] = false
		e.log.Warn("resuming a migration beyond the migration limit", "service", rec.Service, "limit", cap(e.slots))
	}
}
