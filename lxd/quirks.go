package lxd

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// quirks are the workarounds a Client applies for the daemon behind it, one
// field per workaround. The zero value is Incus's: every call direct. They
// are chosen once, at Connect, from the server's name (quirksFor).
//
// Only what differs between the servers has a field. The traps of the Incus
// client itself (WithContext on a shared client, WaitContext leaving the
// server-side operation running, GetServer's unguarded cache) are handled
// the same way for every server, and the calls that misbehave against LXD
// 5.0.2 but that this package never makes (CreateImage with aliases,
// CreateInstanceFile, GetOperationUUIDs, trust tokens) need none: README.md
// lists them all.
type quirks struct {
	// readBackCreate: LXD 5.0.2 may silently drop fields of the create
	// request the Incus client sends (it reads X-LXD-* headers and an older
	// API), so Ensure reads a created instance back and applies what did not
	// stick. Incus applies the request or refuses it: no read-back.
	readBackCreate bool
	// retryBusy: LXD 5.0.2 can refuse a state change or a delete right after
	// an operation on the same instance finished (HTTP 400 "Instance is busy
	// running a "stop" operation": its operation lock outlives the operation).
	// The request is sent again, every busyRetryEvery for at most
	// busyRetryFor. Incus does not: its refusal is returned at once.
	retryBusy bool
	// retryBadPID: Incus 6.0.4 fails a state read with "Invalid PID '…'"
	// while an instance's init is exiting (its pid file is half-written:
	// lxc/incus#2614, #3212), which is exactly when a fence or a drill reads
	// it. The read is sent again, every busyRetryEvery for at most
	// badPIDRetryFor. LXD 5.0.2 was not seen doing it.
	retryBadPID bool
}

// quirksFor returns the workarounds for a server. Incus gets none; LXD, and
// any server that is not Incus, gets every one (the safe side: each only
// adds requests).
func quirksFor(info ServerInfo) quirks {
	if info.Server == "incus" {
		return quirks{retryBadPID: true}
	}
	return quirks{readBackCreate: true, retryBusy: true}
}

// The bounds of quirks.retryBusy and quirks.retryBadPID.
const (
	busyRetryEvery = 50 * time.Millisecond
	busyRetryFor   = 5 * time.Second
	badPIDRetryFor = 2 * time.Second
)

// badPIDText is how Incus words a state read of an instance whose init is
// exiting (an HTTP 500 with no code of its own): with ErrBusy's text, the
// only error text this package reads.
const badPIDText = "Invalid PID"

// retryState is read, sent again while Incus answers "Invalid PID"
// (quirks.retryBadPID); a read changes nothing, so sending it again is safe.
func (c *Client) retryState(ctx context.Context, read func() (*api.InstanceState, error)) (*api.InstanceState, error) {
	var st *api.InstanceState
	err := sendAgain(ctx, c.quirks.retryBadPID, badPIDRetryFor, func(err error) bool {
		return strings.Contains(err.Error(), badPIDText)
	}, func() (err error) {
		st, err = read()
		return err
	}, c.log.Debug, "state read failed on an exiting init, reading again")
	return st, err
}

// sendAgain runs try, and while on is set and again(its error) holds, runs
// it again every busyRetryEvery for at most within: the one retry loop of
// the quirks that send a request again (retryBusy, retryBadPID).
func sendAgain(ctx context.Context, on bool, within time.Duration, again func(error) bool, try func() error, debug func(string, ...any), why string) error {
	err := try()
	if !on {
		return err
	}
	deadline := time.Now().Add(within)
	for err != nil && ctx.Err() == nil && again(err) && time.Now().Before(deadline) {
		debug(why, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(busyRetryEvery):
		}
		err = try()
	}
	return err
}

// runOp is run (send, then wait), with the request sent again while LXD
// refuses it as busy (sendOp).
func (c *Client) runOp(ctx context.Context, fn func() (incus.Operation, error)) error {
	op, err := c.sendOp(ctx, fn)
	if err != nil {
		return err
	}
	return wait(ctx, op)
}

// sendOp is send, sent again while LXD refuses the request as busy
// (quirks.retryBusy): a refusal is a 400 to the request itself, before any
// operation exists, so sending it again is safe.
func (c *Client) sendOp(ctx context.Context, fn func() (incus.Operation, error)) (incus.Operation, error) {
	var op incus.Operation
	err := sendAgain(ctx, c.quirks.retryBusy, busyRetryFor, func(err error) bool {
		return api.StatusErrorCheck(err, http.StatusBadRequest)
	}, func() (err error) {
		op, err = send(ctx, fn)
		return err
	}, c.log.Debug, "daemon busy, sending again")
	return op, err
}

// detect asks the daemon who it is and chooses the quirks for it.
func (c *Client) detect(ctx context.Context) error {
	info, err := c.ServerInfo(ctx)
	if err != nil {
		return fmt.Errorf("detect the server: %w", err)
	}
	c.info = info
	c.quirks = quirksFor(info)
	c.log.Debug("server detected", "server", info.Server, "version", info.Version, "quirks", fmt.Sprintf("%+v", c.quirks))
	return nil
}

// Server returns what Connect learnt of the daemon: "incus" or "lxd", and its
// version (empty for a Client made without Connect).
func (c *Client) Server() ServerInfo { return c.info }
