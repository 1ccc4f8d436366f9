package lxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gorilla/websocket"
	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// A copy with a bandwidth cap runs as a relay through this process, built
// from public client calls as the Incus client's own relay mode is
// (CopyInstance with Mode "relay"), but forwarding the data websockets
// through a token bucket:
//
//  1. the source starts a migration (MigrateInstance) and offers its
//     websockets (control, fs, and criu for a live copy);
//  2. the target creates the instance with a push-mode migration source and
//     offers the same websockets;
//  3. this process connects each pair and forwards messages both ways; what
//     flows from the source to the target on the data sockets waits for
//     tokens (the control socket is not limited).
//
// Backpressure does the rest: while the relay waits, it reads nothing, the
// TCP window closes and the source's rsync slows down.

// relayBurst is the most bytes forwarded at once: the bucket's depth.
const relayBurst = 64 << 10

// waiter is the token bucket as the relay uses it (*Limiter).
type waiter interface {
	WaitN(ctx context.Context, n int) error
	Burst() int // the most one WaitN may ask for
}

// relayFrom copies inst from src onto s through this process, its data
// sockets through lim. It keeps args.Refresh: an incremental copy into an
// existing target (the target then keeps its own config).
func (s realServer) relayFrom(src realServer, inst api.Instance, args *incus.InstanceCopyArgs, lim waiter) (incus.RemoteOperation, error) {
	name := args.Name
	if name == "" {
		name = inst.Name
	}
	srcOp, err := src.wrap(func() (incus.Operation, error) {
		return src.InstanceServer.MigrateInstance(inst.Name, api.InstancePost{Migration: true, Live: args.Live, InstanceOnly: args.InstanceOnly,
			AllowInconsistent: args.AllowInconsistent})
	})
	if err != nil {
		return nil, fmt.Errorf("start the migration on the source: %w", err)
	}
	req := api.InstancesPost{Name: name, InstancePut: inst.Writable(), Type: api.InstanceType(inst.Type),
		Source: api.InstanceSource{Type: "migration", Mode: "push", BaseImage: inst.Config["volatile.base_image"],
			Live: args.Live, InstanceOnly: args.InstanceOnly, Refresh: args.Refresh}}
	dstOp, err := s.CreateInstance(req)
	if err != nil {
		_ = srcOp.Cancel()
		return nil, fmt.Errorf("create the target of a push migration: %w", err)
	}
	op, err := connectRelay(src, s, srcOp, dstOp, lim)
	if err != nil {
		_ = srcOp.Cancel()
		_ = dstOp.Cancel()
		return nil, err
	}
	return op, nil
}

// opSecrets returns the websocket secrets an operation offers, by name.
func opSecrets(op incus.Operation) map[string]string {
	out := map[string]string{}
	for k, v := range op.Get().Metadata {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// wsDialer is the part of incus.InstanceServer that opens an operation's
// websocket.
type wsDialer interface {
	GetOperationWebsocket(uuid, secret string) (*websocket.Conn, error)
}

// connectRelay connects every websocket the target expects to the
// source's and starts forwarding.
func connectRelay(src, dst wsDialer, srcOp, dstOp incus.Operation, lim waiter) (*relayOp, error) {
	srcSecrets, dstSecrets := opSecrets(srcOp), opSecrets(dstOp)
	if dstSecrets[api.SecretNameControl] == "" || srcSecrets[api.SecretNameControl] == "" {
		return nil, errors.New("relay: the migration offers no control websocket")
	}
	ctx, cancel := context.WithCancel(context.Background())
	op := &relayOp{target: dstOp, source: srcOp, cancel: cancel, done: make(chan struct{})}
	var links []*link
	for name, ts := range dstSecrets {
		ss, ok := srcSecrets[name]
		if !ok {
			op.closeAll(links)
			return nil, fmt.Errorf("relay: the target expects the %q websocket but the source offers none", name)
		}
		sc, err := src.GetOperationWebsocket(srcOp.Get().ID, ss)
		if err != nil {
			op.closeAll(links)
			return nil, fmt.Errorf("relay: connect the source's %q websocket: %w", name, err)
		}
		tc, err := dst.GetOperationWebsocket(dstOp.Get().ID, ts)
		if err != nil {
			sc.Close()
			op.closeAll(links)
			return nil, fmt.Errorf("relay: connect the target's %q websocket: %w", name, err)
		}
		l := &link{name: name, src: sc, dst: tc}
		if name != api.SecretNameControl {
			l.lim = lim
		}
		links = append(links, l)
	}
	op.links = links
	for _, l := range links {
		l.start(ctx)
	}
	go op.run()
	return op, nil
}

// link is one websocket pair of the relay.
type link struct {
	name     string
	src, dst *websocket.Conn
	lim      waiter        // nil: not limited
	done     chan struct{} // closed when either direction stopped
	sent     int64         // bytes forwarded from the source to the target
}

// start forwards both ways until either side stops, then closes both.
func (l *link) start(ctx context.Context) {
	l.done = make(chan struct{})
	up, down := make(chan struct{}), make(chan struct{})
	go func() { defer close(up); l.sent, _ = forward(ctx, l.src, l.dst, l.lim) }()
	go func() { defer close(down); _, _ = forward(ctx, l.dst, l.src, nil) }()
	go func() {
		select {
		case <-up:
		case <-down:
		}
		l.src.Close()
		l.dst.Close()
		<-up
		<-down
		close(l.done)
	}()
}

// forward copies websocket messages from in to out, each through lim when
// it is set, until in ends. It returns the bytes forwarded.
func forward(ctx context.Context, in, out *websocket.Conn, lim waiter) (int64, error) {
	var total int64
	for {
		mt, r, err := in.NextReader()
		if err != nil {
			return total, err
		}
		w, err := out.NextWriter(mt)
		if err != nil {
			return total, err
		}
		if lim != nil {
			r = &limitedReader{ctx: ctx, r: r, lim: lim}
		}
		n, err := io.Copy(w, r)
		total += n
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return total, err
		}
	}
}

// limitedReader takes a token per byte before it hands the bytes on.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	lim waiter
}

func (l *limitedReader) Read(p []byte) (int, error) {
	// Never read more than one wait may grant: a low cap has a small burst.
	if b := max(1, min(l.lim.Burst(), relayBurst)); len(p) > b {
		p = p[:b]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.lim.WaitN(l.ctx, n); werr != nil {
			return 0, werr
		}
	}
	return n, err
}

// relayOp is the copy as an incus.RemoteOperation: it ends when the
// target's operation does, after the relay stopped.
type relayOp struct {
	target, source incus.Operation
	links          []*link
	cancel         context.CancelFunc
	done           chan struct{}
	err            error
	closeOnce      sync.Once
}

var _ incus.RemoteOperation = (*relayOp)(nil)

// run waits for the control link (the migration's end), closes the data
// links, then waits for the target's operation.
func (o *relayOp) run() {
	defer close(o.done)
	for _, l := range o.links {
		if l.name == api.SecretNameControl {
			<-l.done
		}
	}
	o.closeAll(o.links)
	o.err = o.target.Wait()
	o.cancel()
}

// closeAll closes every websocket of links.
func (o *relayOp) closeAll(links []*link) {
	for _, l := range links {
		l.src.Close()
		l.dst.Close()
	}
}

// Wait waits for the copy to end on the target.
func (o *relayOp) Wait() error {
	<-o.done
	for _, l := range o.links {
		<-l.done
	}
	return o.err
}

// CancelTarget stops the relay and cancels both operations.
func (o *relayOp) CancelTarget() error {
	o.closeOnce.Do(func() {
		o.cancel()
		o.closeAll(o.links)
		_ = o.source.Cancel()
	})
	return o.target.Cancel()
}

// GetTarget returns the target's operation.
func (o *relayOp) GetTarget() (*api.Operation, error) {
	t := o.target.Get()
	return &t, nil
}

// AddHandler is not supported by the relay.
func (o *relayOp) AddHandler(func(api.Operation)) (*incus.EventTarget, error) {
	return nil, errors.New("relay: event handlers are not supported")
}

// sentBytes is what the relay forwarded from the source on its data links.
func (o *relayOp) sentBytes() int64 {
	var n int64
	for _, l := range o.links {
		if l.name != api.SecretNameControl {
			n += l.sent
		}
	}
	return n
}
