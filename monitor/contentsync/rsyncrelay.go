package contentsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// sshRelay is where an rsync pull's ssh connects instead of the primary:
// a listener on 127.0.0.1 that forwards each connection to the primary's
// ssh port, both directions read through wrap (the shared bandwidth cap),
// so the pull's bytes draw on the cap every other copy draws on instead of
// a --bwlimit of the whole cap beside it. ssh still checks the primary's
// host key (HostKeyAlias), so the relay sees only encrypted bytes.
type sshRelay struct {
	ln   net.Listener
	to   string
	wrap func(context.Context, io.Reader) io.Reader
	log  *slog.Logger

	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error // the connections' failures, for the pull's error
}

// relayDialTimeout bounds the connect to the primary (as ssh's
// ConnectTimeout=10 would).
const relayDialTimeout = 10 * time.Second

// startRelay listens on an ephemeral loopback port and forwards to addr
// until Close; its connections end with ctx too.
func startRelay(ctx context.Context, addr string, wrap func(context.Context, io.Reader) io.Reader, log *slog.Logger) (*sshRelay, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rsync: listen for ssh's relay: %w", err)
	}
	r := &sshRelay{ln: ln, to: addr, wrap: wrap, log: log}
	r.ctx, r.stop = context.WithCancel(ctx)
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Port is the loopback port ssh connects to.
func (r *sshRelay) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening, cuts the connections still open and returns
// once every goroutine of the relay stopped, with what failed in them.
func (r *sshRelay) Close() error {
	r.stop()
	err := r.ln.Close()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return errors.Join(append([]error{err}, r.errs...)...)
}

func (r *sshRelay) accept() {
	defer r.wg.Done()
	context.AfterFunc(r.ctx, func() { r.ln.Close() })
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return // closed
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := r.forward(c); err != nil {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
			}
		}()
	}
}

// forward joins c to a new connection to the primary until either side
// ends; both directions pass wrap.
func (r *sshRelay) forward(c net.Conn) error {
	defer c.Close()
	d := net.Dialer{Timeout: relayDialTimeout}
	up, err := d.DialContext(r.ctx, "tcp", r.to)
	if err != nil {
		return fmt.Errorf("rsync: relay to %s: %w", r.to, err)
	}
	defer up.Close()
	stop := context.AfterFunc(r.ctx, func() { c.Close(); up.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, r.wrap(r.ctx, src))
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // pass the end on; the other direction may still carry bytes
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	r.log.Debug("rsync relay connection ended", "to", r.to)
	return nil
}
