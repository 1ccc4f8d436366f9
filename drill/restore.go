package drill

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// restore returns every service the fault touched to its primary after the
// fault was removed: the drilled one, and the neighbours the fault took
// down too (see Config.touched; the monitor failed them over too). It stops at
// the first service it cannot restore.
func (r *run) restore(ctx context.Context) error {
	for i, c := range r.cfg.touched() {
		if err := r.restoreOne(ctx, c); err != nil {
			if i > 0 {
				return fmt.Errorf("restore the neighbour %q: %w", c.Service, err)
			}
			return err
		}
		if i > 0 {
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("the fault also touched %q: restored it too", c.Service))
		}
	}
	return nil
}

// restoreOne returns one service to its primary: it waits until the
// monitor's incident of the service (if any) has ended, starts (or thaws)
// the primary instance, waits until the service has answered there for
// RestoreSettle in a row, asks the
// monitor to reset the service (the monitor swaps DNS back with a
// compare-and-swap and returns the standby container to its prepared
// state), and waits until the monitor, DNS and the standby agree again. It
// stands in for a failback until one exists (issue 8).
func (r *run) restoreOne(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.RestoreTimeout)
	defer cancel()
	log := r.log.With("restore", cfg.Service)
	// A failover still running would fence the primary after it was
	// started, and so would the force-stop of a primary the fence froze.
	if err := r.until(ctx, "the monitor's incident of "+cfg.Service+" ends", func(ctx context.Context) error {
		st, err := r.d.Monitor.Service(ctx, cfg.Service)
		switch {
		case err != nil:
		case st.State == "suspect" || st.State == "failing-over":
			err = fmt.Errorf("state %q", st.State)
		case st.LastIncident.FenceStopPending():
			err = fmt.Errorf("incident %s: the frozen primary is still being stopped", st.LastIncident.ID)
		}
		return err
	}); err != nil {
		return err
	}
	name := cfg.Primary.Instance
	if hv := r.d.Hypervisor; hv != nil {
		// The monitor's fence may still be stopping it: retry until it runs.
		err := r.until(ctx, "the primary "+name+" runs", func(ctx context.Context) error {
			st, err := hv.State(ctx, name)
			switch {
			case err != nil:
				return fmt.Errorf("read the state of %q: %w", name, err)
			case st.Frozen:
				err = hv.Unfreeze(ctx, name)
			case !st.Running:
				err = hv.Start(ctx, name)
			default:
				return nil
			}
			if err == nil {
				err = errors.New("started; checking again")
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	var since time.Time // the first answer of the current run of answers
	if err := r.until(ctx, fmt.Sprintf("the service answers on its primary for %s in a row", cfg.RestoreSettle), func(ctx context.Context) error {
		if _, err := checkPrimary(ctx, cfg); err != nil {
			since = time.Time{}
			return err
		}
		if since.IsZero() {
			since = time.Now()
		}
		if d := time.Since(since); d < cfg.RestoreSettle {
			return fmt.Errorf("answering for %s", d.Round(time.Millisecond))
		}
		return nil
	}); err != nil {
		return err
	}
	// A reset whose answer was lost must not be repeated: each attempt
	// first asks where the service is.
	if err := r.until(ctx, "the monitor resets the service", func(ctx context.Context) error {
		st, err := r.d.Monitor.Service(ctx, cfg.Service)
		if err != nil || st.State == "primary" {
			return err
		}
		return r.d.Monitor.Reset(ctx, cfg.Service, "drill --restore")
	}); err != nil {
		return err
	}
	if err := r.until(ctx, "DNS points at the primary again", func(ctx context.Context) error {
		addrs, err := r.d.DNS.Lookup(ctx, cfg.FQDN)
		if err == nil && !equalAddrs(addrs, cfg.Primary.Address) {
			err = fmt.Errorf("%s points at %v", cfg.FQDN, addrs)
		}
		return err
	}); err != nil {
		return err
	}
	err := r.until(ctx, "the standby container is prepared again", func(ctx context.Context) error {
		st, err := r.d.Monitor.Service(ctx, cfg.Service)
		if err == nil && (st.State != "primary" || !st.Standby.Prepared) {
			err = fmt.Errorf("state %q, standby prepared %v%s", st.State, st.Standby.Prepared, why(st.Standby.Error, st.Standby.Note))
		}
		return err
	})
	if err == nil {
		log.Info("restored to the primary")
	}
	return err
}

// until retries fn every 200 ms until it returns nil or ctx ends.
func (r *run) until(ctx context.Context, what string, fn func(context.Context) error) error {
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait until %s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
