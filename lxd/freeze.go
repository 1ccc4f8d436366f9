package lxd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// The freeze is sent again while no freeze operation has ended: first
// after freezeAgainAfter, then after twice as long each time, freezeSends
// operations at most in all (the last one 465 ms after the first).
//
// On a cgroup v1 freezer (a hybrid host such as the lab's Debian 12),
// liblxc 5.0 writes FROZEN to freezer.state, reads it back once, and when
// the kernel still says FREEZING at that instant (one task not yet
// stopped, microseconds after the write) it sleeps a whole second before
// it reads again (lxc freezer.c, do_freeze_thaw). The kernel has frozen
// the container within milliseconds, but the daemon reports Freezing and
// the operation ends a second later: the ~1 s fence of issue 18. A second
// freeze reads the kernel's FROZEN at its first read and ends at once.
// Each operation succeeds only when liblxc has read FROZEN from the
// kernel, so the first success is the same proof of a fence as the
// slowest. A pure cgroup v2 host waits on cgroup.events and answers the
// first freeze in milliseconds; nothing is sent again there.
const (
	freezeAgainAfter = 15 * time.Millisecond
	freezeSends      = 6
)

// Freeze freezes (pauses) a running instance; a frozen one is left as is.
// A stopped one is refused with ErrStopped, and one whose init has exited
// while the daemon still counts it running (a stop under way) with
// ErrStopping, both before anything is sent (a freeze of either fails
// after the daemon's round trip). While no freeze has ended, the freeze is
// sent again (freezeAgainAfter); the first operation to succeed is the
// answer.
func (c *Client) Freeze(ctx context.Context, name string) error {
	if err := c.freeze(ctx, name); err != nil {
		return fmt.Errorf("freeze instance %q on %q: %w", name, c.name, err)
	}
	return nil
}

func (c *Client) freeze(ctx context.Context, name string) error {
	if settled, err := c.freezeSettled(ctx, name); settled || err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Every waiter ends with ctx; the operations left on the daemon end by
	// themselves within liblxc's second (a freeze cannot be cancelled).
	defer wg.Wait()
	defer cancel()
	results := make(chan error, freezeSends)
	start := func(first bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- c.freezeOnce(ctx, name, first)
		}()
	}
	start(true)
	sent, pending, after := 1, 1, freezeAgainAfter
	again := time.NewTimer(after)
	defer again.Stop()
	var firstErr error
	for {
		select {
		case err := <-results:
			pending--
			if err == nil {
				return nil
			}
			if firstErr == nil {
				firstErr = err
			}
			// Another freeze may have won ("already frozen"), or the
			// instance stopped meanwhile: its state decides.
			if settled, serr := c.freezeSettled(ctx, name); settled {
				return serr
			}
			if pending == 0 {
				return firstErr
			}
		case <-again.C:
			if sent < freezeSends {
				c.log.Debug("freeze not answered yet, sending it again", "instance", name, "after", after, "sent", sent)
				start(false)
				sent, pending, after = sent+1, pending+1, after*2
				again.Reset(after)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// freezeOnce sends one freeze and waits for its operation. The first one
// is sent again while LXD refuses it as busy (sendOp); a later one is not,
// since the first is under way. The wait does not cancel the operation
// when ctx ends (as wait does): then another freeze answered first, and a
// freeze cannot be cancelled anyway.
func (c *Client) freezeOnce(ctx context.Context, name string, first bool) error {
	put := api.InstanceStatePut{Action: "freeze", Timeout: -1}
	fn := func() (incus.Operation, error) { return c.srv.UpdateInstanceState(name, put, "") }
	var op incus.Operation
	var err error
	if first {
		op, err = c.sendOp(ctx, fn)
	} else {
		op, err = send(ctx, fn)
	}
	if err != nil {
		return notFound(err)
	}
	return op.WaitContext(ctx)
}

// freezeSettled reads the instance's state once and says whether a freeze
// has nothing left to do: frozen (nil), stopped (ErrStopped), or its init
// gone while the daemon counts it running (ErrStopping: Incus fails the
// read with "Invalid PID", the quirk retryBadPID reads again for others).
// The daemon learns both from liblxc's monitor of the container, the same
// source that reports Stopped; an init that has exited took its PID
// namespace with it: the kernel killed every task in it.
func (c *Client) freezeSettled(ctx context.Context, name string) (bool, error) {
	st, err := call(ctx, func() (*api.InstanceState, error) {
		st, _, err := c.srv.GetInstanceState(name)
		return st, err
	})
	switch {
	case err != nil && strings.Contains(err.Error(), badPIDText):
		return true, fmt.Errorf("%w (the daemon: %v)", ErrStopping, err)
	case err != nil:
		return false, notFound(err)
	case st.StatusCode == api.Frozen:
		return true, nil
	case st.StatusCode == api.Stopped:
		return true, ErrStopped
	}
	return false, nil
}
