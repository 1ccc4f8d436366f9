package drill

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// restore returns the service to its primary after the fault was removed:
// it starts (or thaws) the primary instance, waits until the service answers
// there, asks the monitor to reset the service (the monitor swaps DNS back
// with a compare-and-swap and returns the standby container to its prepared
// state), and waits until the monitor, DNS and the standby agree again. It
// stands in for a failback until one exists (issue 8).
func (r *run) restore(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RestoreTimeout)
	defer cancel()
	name := r.cfg.Primary.Instance
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
	if err := r.until(ctx, "the service answers on its primary", func(ctx context.Context) error {
		_, err := checkPrimary(ctx, r.cfg)
		return err
	}); err != nil {
		return err
	}
	// A reset whose answer was lost must not be repeated: each attempt
	// first asks where the service is.
	if err := r.until(ctx, "the monitor resets the service", func(ctx context.Context) error {
		st, err := r.d.Monitor.Service(ctx, r.cfg.Service)
		if err != nil || st.State == "primary" {
			return err
		}
		return r.d.Monitor.Reset(ctx, r.cfg.Service, "drill --restore")
	}); err != nil {
		return err
	}
	if err := r.until(ctx, "DNS points at the primary again", func(ctx context.Context) error {
		addrs, err := r.d.DNS.Lookup(ctx, r.cfg.FQDN)
		if err == nil && !equalAddrs(addrs, r.cfg.Primary.Address) {
			err = fmt.Errorf("%s points at %v", r.cfg.FQDN, addrs)
		}
		return err
	}); err != nil {
		return err
	}
	err := r.until(ctx, "the standby container is prepared again", func(ctx context.Context) error {
		st, err := r.d.Monitor.Service(ctx, r.cfg.Service)
		if err == nil && (st.State != "primary" || !st.Standby.Prepared) {
			err = fmt.Errorf("state %q, standby prepared %v%s", st.State, st.Standby.Prepared, why(st.Standby.Error, st.Standby.Note))
		}
		return err
	})
	if err == nil {
		r.log.Info("restored to the primary")
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
