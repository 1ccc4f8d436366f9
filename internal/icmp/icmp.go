// Package icmp sends ICMP echo requests over one long-lived raw socket and
// matches the replies to their callers.
//
// A Pinger owns one privileged "ip4:icmp" socket and one reader goroutine.
// Each echo request carries the Pinger's identifier, a sequence number and a
// random per-Pinger token, so replies meant for other pingers on the same
// machine (raw sockets see every ICMP packet) are ignored. Concurrent callers
// asking about the same address share the echo already in flight instead of
// sending one each; every caller keeps its own deadline.
//
// The package does not retry, does not resolve names and does not speak
// ICMPv6; it answers one question per call: did this address answer an echo
// before the caller's context ended? It needs root (CAP_NET_RAW); unprivileged
// ping sockets are disabled on the machines this runs on (see LAB.md).
package icmp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Errors callers may branch on.
var (
	// ErrClosed is returned by Ping after Close, and to callers still
	// waiting when Close is called.
	ErrClosed = errors.New("icmp pinger closed")
	// ErrUnsupported is returned for addresses this package cannot probe
	// (anything but IPv4).
	ErrUnsupported = errors.New("only IPv4 addresses are supported")
)

// tokenLen is the length of the random token that opens every payload.
const tokenLen = 8

// Pinger sends echo requests over one raw socket. It is safe for concurrent
// use. The zero value is not usable; call New.
type Pinger struct {
	conn  *xicmp.PacketConn
	id    uint16
	token [tokenLen]byte

	mu      sync.Mutex
	seq     uint16
	bySeq   map[uint16]*flight
	byAddr  map[netip.Addr]*flight
	closed  bool
	readErr error // set when the reader stopped on its own

	readerDone chan struct{}
}

// flight is one echo request in flight and everyone waiting for it.
type flight struct {
	addr    netip.Addr
	seq     uint16
	sent    time.Time
	waiters int
	done    chan struct{} // closed once rtt/err are set
	rtt     time.Duration
	err     error
}

// New opens the raw socket and starts the reader goroutine. Close releases
// both.
func New() (*Pinger, error) { return NewFrom(netip.Addr{}) }

// NewFrom is New with the socket bound to the local IPv4 address src: its
// echoes leave from src (and only replies to src are read), so a firewall
// can tell them from the host's other pings. The zero Addr binds none.
func NewFrom(src netip.Addr) (*Pinger, error) {
	local := "0.0.0.0"
	if src.IsValid() {
		if !src.Unmap().Is4() {
			return nil, fmt.Errorf("icmp source %s: %w", src, ErrUnsupported)
		}
		local = src.Unmap().String()
	}
	conn, err := xicmp.ListenPacket("ip4:icmp", local)
	if err != nil {
		return nil, fmt.Errorf("open raw icmp socket (needs root or CAP_NET_RAW): %w", err)
	}
	// Let the kernel hand us echo replies only. Best effort: without the
	// filter the reader simply discards more packets.
	var f ipv4.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv4.ICMPTypeEchoReply)
	_ = conn.IPv4PacketConn().SetICMPFilter(&f)
	// Best effort too: a smaller buffer only loses replies under load,
	// so it is a warning, not an error.
	rcvbuf, err := setReadBuffer(conn.IPv4PacketConn().PacketConn, ReadBuffer)
	warnSmallReadBuffer(slog.Default(), rcvbuf, ReadBuffer, err)

	p := &Pinger{
		conn:       conn,
		bySeq:      make(map[uint16]*flight),
		byAddr:     make(map[netip.Addr]*flight),
		readerDone: make(chan struct{}),
	}
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("draw icmp identifier: %w", err)
	}
	p.id = binary.BigEndian.Uint16(idb[:])
	if _, err := rand.Read(p.token[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("draw icmp token: %w", err)
	}
	go p.read()
	return p, nil
}

// Ping sends one echo request to addr, or joins the one already in flight to
// addr, and waits for the reply until ctx ends. It returns the round-trip
// time measured from when the shared request was sent.
//
// The error says why there was no answer: the context ended first (wrapping
// ctx.Err(), so errors.Is(err, context.DeadlineExceeded) works), the send
// failed (for example "network is unreachable"), the address is not IPv4, or
// the Pinger is closed.
func (p *Pinger) Ping(ctx context.Context, addr netip.Addr) (time.Duration, error) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return 0, fmt.Errorf("ping %s: %w", addr, ErrUnsupported)
	}
	f, fresh, err := p.join(addr)
	if err != nil {
		return 0, fmt.Errorf("ping %s: %w", addr, err)
	}
	if fresh {
		if err := p.send(f); err != nil {
			p.finish(f, 0, fmt.Errorf("send echo request: %w", err))
		}
	}
	select {
	case <-f.done:
		if f.err != nil {
			return 0, fmt.Errorf("ping %s: %w", addr, f.err)
		}
		return f.rtt, nil
	case <-ctx.Done():
		waited := time.Since(f.sent)
		p.leave(f)
		return 0, fmt.Errorf("ping %s: no echo reply after %s: %w", addr, waited.Round(time.Microsecond), ctx.Err())
	}
}

// Close stops the reader goroutine, closes the socket and fails every
// caller still waiting with ErrClosed. It is safe to call more than once.
func (p *Pinger) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.readerDone
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.conn.Close()
	<-p.readerDone
	p.failAll(ErrClosed)
	if err != nil {
		return fmt.Errorf("close icmp socket: %w", err)
	}
	return nil
}

// join registers the caller on the flight to addr, creating it when there is
// none. fresh reports whether the caller must send the request.
func (p *Pinger) join(addr netip.Addr) (f *flight, fresh bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false, ErrClosed
	}
	if p.readErr != nil {
		return nil, false, fmt.Errorf("icmp reader stopped: %w", p.readErr)
	}
	if f := p.byAddr[addr]; f != nil {
		f.waiters++
		return f, false, nil
	}
	seq, ok := p.nextSeq()
	if !ok {
		return nil, false, errors.New("all 65536 icmp sequence numbers are in flight")
	}
	f = &flight{addr: addr, seq: seq, sent: time.Now(), waiters: 1, done: make(chan struct{})}
	p.bySeq[seq] = f
	p.byAddr[addr] = f
	return f, true, nil
}

// nextSeq returns a sequence number no flight uses. Called with p.mu held.
func (p *Pinger) nextSeq() (uint16, bool) {
	for range 1 << 16 {
		p.seq++
		if _, busy := p.bySeq[p.seq]; !busy {
			return p.seq, true
		}
	}
	return 0, false
}

// send writes the echo request of f.
func (p *Pinger) send(f *flight) error {
	payload := make([]byte, tokenLen+8)
	copy(payload, p.token[:])
	binary.BigEndian.PutUint64(payload[tokenLen:], uint64(f.sent.UnixNano()))
	msg := xicmp.Message{
		Type: ipv4.ICMPTypeEcho,
		Body: &xicmp.Echo{ID: int(p.id), Seq: int(f.seq), Data: payload},
	}
	b, err := msg.Marshal(nil)
	if err != nil {
		return fmt.Errorf("marshal echo request: %w", err)
	}
	_, err = p.conn.WriteTo(b, &net.IPAddr{IP: f.addr.AsSlice()})
	return err
}

// leave unregisters one waiter whose context ended. A flight someone gave
// up on is no longer offered to new callers, so a lost request delays only
// the callers that joined it before the first one timed out.
func (p *Pinger) leave(f *flight) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f.waiters--
	if p.byAddr[f.addr] == f {
		delete(p.byAddr, f.addr)
	}
	if f.waiters == 0 && p.bySeq[f.seq] == f {
		delete(p.bySeq, f.seq)
	}
}

// finish records the outcome of f and wakes its waiters, once.
func (p *Pinger) finish(f *flight, rtt time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked(f, rtt, err)
}

func (p *Pinger) finishLocked(f *flight, rtt time.Duration, err error) {
	select {
	case <-f.done:
		return
	default:
	}
	if p.bySeq[f.seq] == f {
		delete(p.bySeq, f.seq)
	}
	if p.byAddr[f.addr] == f {
		delete(p.byAddr, f.addr)
	}
	f.rtt, f.err = rtt, err
	close(f.done)
}

// failAll finishes every flight with err.
func (p *Pinger) failAll(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.bySeq {
		p.finishLocked(f, 0, err)
	}
	for _, f := range p.byAddr {
		p.finishLocked(f, 0, err)
	}
}
