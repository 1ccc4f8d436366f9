package icmp

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"time"

	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// protocolICMP is the IANA protocol number of ICMP for IPv4.
const protocolICMP = 1

// read is the only goroutine that reads the socket. It runs until the socket
// is closed, and hands each matching echo reply to its flight.
func (p *Pinger) read() {
	defer close(p.readerDone)
	buf := make([]byte, 1500)
	for {
		n, peer, err := p.conn.ReadFrom(buf)
		now := time.Now()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			if !closed {
				p.readErr = err
			}
			p.mu.Unlock()
			if !closed {
				p.failAll(fmt.Errorf("read icmp socket: %w", err))
			}
			return
		}
		p.deliver(buf[:n], peer, now)
	}
}

// deliver matches one received packet to its flight, if it is ours.
func (p *Pinger) deliver(b []byte, peer net.Addr, at time.Time) {
	msg, err := xicmp.ParseMessage(protocolICMP, b)
	if err != nil || msg.Type != ipv4.ICMPTypeEchoReply {
		return
	}
	echo, ok := msg.Body.(*xicmp.Echo)
	if !ok || uint16(echo.ID) != p.id || !bytes.HasPrefix(echo.Data, p.token[:]) {
		return
	}
	from, ok := peerAddr(peer)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.bySeq[uint16(echo.Seq)]
	if f == nil || f.addr != from {
		return
	}
	p.finishLocked(f, at.Sub(f.sent), nil)
}

func peerAddr(a net.Addr) (netip.Addr, bool) {
	ip, ok := a.(*net.IPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	addr, ok := netip.AddrFromSlice(ip.IP)
	return addr.Unmap(), ok
}
