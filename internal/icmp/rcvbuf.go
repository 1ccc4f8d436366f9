package icmp

import (
	"fmt"
	"net"
	"syscall"
)

// ReadBuffer is the receive buffer asked for the raw socket. Every raw ICMP
// socket on the machine gets a copy of every echo reply; with the kernel's
// default (net.core.rmem_default, 208 KiB: about 270 replies on loopback) a
// monitor probing thousands of addresses loses replies whenever its reader
// is not scheduled for a few tens of milliseconds, and a lost reply is a
// failed probe (bench/probescale.sh: 2.7 % of 3,333 echoes a second lost on
// a loaded 2-core machine). 4 MiB holds about 5,000.
const ReadBuffer = 4 << 20

// setReadBuffer grows c's receive buffer to n bytes: SO_RCVBUFFORCE (root
// or CAP_NET_ADMIN: beyond net.core.rmem_max), else SO_RCVBUF (capped at
// rmem_max by the kernel).
func setReadBuffer(c net.PacketConn, n int) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("set the receive buffer: %T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("set the receive buffer: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = forceReadBuffer(int(fd), n)
		if serr != nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		}
	}); err != nil {
		return fmt.Errorf("set the receive buffer: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("set the receive buffer to %d bytes: %w", n, serr)
	}
	return nil
}
