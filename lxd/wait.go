package lxd

import (
	"context"
	"time"

	incus "github.com/lxc/incus/v6/client"
)

// cancelTimeout bounds the best-effort cancel of a server-side operation.
const cancelTimeout = 5 * time.Second

// run sends one request that starts a server-side operation and waits for
// it (send, then wait).
func run(ctx context.Context, fn func() (incus.Operation, error)) error {
	op, err := send(ctx, fn)
	if err != nil {
		return err
	}
	return wait(ctx, op)
}

// send sends one request that starts a server-side operation. When ctx ends
// while the request is in flight, it returns ctx.Err() and cancels the
// operation once the daemon has created it.
func send(ctx context.Context, fn func() (incus.Operation, error)) (incus.Operation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		op  incus.Operation
		err error
	}
	ch := make(chan result, 1)
	go func() {
		op, err := fn()
		ch <- result{op, err}
	}()
	select {
	case r := <-ch:
		return r.op, r.err
	case <-ctx.Done():
		// This goroutine ends with the request (requestTimeout at most).
		go func() {
			if r := <-ch; r.err == nil && r.op != nil {
				cancelOp(context.WithoutCancel(ctx), r.op)
			}
		}()
		return nil, ctx.Err()
	}
}

// wait waits for an operation with op.WaitContext. When ctx ends first it
// cancels the operation explicitly: the client's WaitContext returns when
// ctx ends but leaves the operation running on the server (Incus and LXD).
func wait(ctx context.Context, op incus.Operation) error {
	err := op.WaitContext(ctx)
	if ctxErr := ctx.Err(); ctxErr != nil {
		if err == nil {
			return nil // finished just as ctx ended
		}
		cancelOp(context.WithoutCancel(ctx), op)
		return ctxErr
	}
	return err
}

// cancelOp cancels a server-side operation, best effort: many operations
// (start, stop) are not cancellable and the daemon says so.
func cancelOp(ctx context.Context, op incus.Operation) {
	ctx, cancel := context.WithTimeout(ctx, cancelTimeout)
	defer cancel()
	_, _ = call(ctx, func() (struct{}, error) { return struct{}{}, op.Cancel() })
}

// waitRemote waits for an operation spanning two servers (a copy). The
// client's RemoteOperation has no WaitContext, so the wait runs in a
// goroutine; when ctx ends the target operation is cancelled (best effort)
// and the wait gets cancelTimeout more to finish.
func waitRemote(ctx context.Context, rop incus.RemoteOperation) error {
	done := make(chan error, 1)
	go func() { done <- rop.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	_, _ = call(cctx, func() (struct{}, error) { return struct{}{}, rop.CancelTarget() })
	select {
	case <-done:
	case <-cctx.Done():
	}
	return ctx.Err()
}
