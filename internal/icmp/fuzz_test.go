package icmp

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// FuzzDeliver feeds arbitrary packets to the reply matcher, which parses
// whatever arrives on the raw socket: it must never panic, and only a
// well-formed reply with our identifier, token, sequence and source may
// finish the flight.
func FuzzDeliver(f *testing.F) {
	p := &Pinger{id: 0x1234, bySeq: map[uint16]*flight{}, byAddr: map[netip.Addr]*flight{}}
	copy(p.token[:], "tokentok")
	f.Add(reply(&testing.T{}, 0x1234, 7, p.token[:]), []byte{127, 0, 0, 1})
	f.Add([]byte{0, 0}, []byte{127, 0, 0, 1})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, pkt, from []byte) {
		addr := netip.MustParseAddr("127.0.0.1")
		fl := &flight{addr: addr, seq: 7, sent: time.Now(), waiters: 1, done: make(chan struct{})}
		p.bySeq[7], p.byAddr[addr] = fl, fl
		p.deliver(pkt, &net.IPAddr{IP: net.IP(from)}, time.Now())
		select {
		case <-fl.done:
			src, _ := netip.AddrFromSlice(from)
			ours := len(pkt) >= 8+tokenLen && pkt[0] == 0 && // echo reply
				pkt[4] == 0x12 && pkt[5] == 0x34 && pkt[6] == 0 && pkt[7] == 7 &&
				string(pkt[8:8+tokenLen]) == string(p.token[:]) && src.Unmap() == addr
			if !ours {
				t.Fatalf("flight finished by packet %x from %v", pkt, from)
			}
		default:
		}
		delete(p.bySeq, 7)
		delete(p.byAddr, addr)
	})
}
