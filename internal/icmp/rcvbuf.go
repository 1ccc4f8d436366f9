package icmp

import (
	"fmt"
	"log/slog"
	"net"
	"syscall"
)

// ReadBuffer is the receive buffer asked for the raw socket. Every raw ICMP
// socket on the machine gets a copy of every echo reply; with the kernel's
// default (net.core.rmem_default, 208 KiB: about 270 replies on loopback) a
// monitor probing thousands of addresses loses replies whenever its reader
// is not scheduled for a few tens of milliseconds, and a lost reply is a
// failed probe (sudo bash bench/probescale-rcvbuf.sh, 10,000 targets at 1 s
// on a loaded 2-core machine: the kernel dropped 6,182 and 8,122 replies at
// the socket in 20 s with the default buffer, 0 and 0 with this one;
// bench/results/probescale-rcvbuf/probescale-rcvbuf.md). 4 MiB holds about
// 5,000.
//
// Without CAP_NET_ADMIN (the packaged daemons have CAP_NET_RAW only) the
// kernel caps the buffer at net.core.rmem_max (212992 on stock Debian 12):
// New then logs a warning naming the sysctl; the Debian package raises it
// (/usr/lib/sysctl.d/60-understudy.conf).
const ReadBuffer = 4 << 20

// rmemSysctl is the sysctl that caps SO_RCVBUF for unprivileged sockets.
const rmemSysctl = "net.core.rmem_max"

// setReadBuffer grows c's receive buffer to n bytes: SO_RCVBUFFORCE (root
// or CAP_NET_ADMIN: beyond net.core.rmem_max), else SO_RCVBUF (capped at
// rmem_max by the kernel). It returns the size the kernel granted, read
// back with getsockopt (the kernel's doubling for bookkeeping undone).
func setReadBuffer(c net.PacketConn, n int) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("set the receive buffer: %T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("set the receive buffer: %w", err)
	}
	var serr, gerr error
	var got int
	if err := raw.Control(func(fd uintptr) {
		serr = forceReadBuffer(int(fd), n)
		if serr != nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		}
		got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil {
		return 0, fmt.Errorf("set the receive buffer: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("set the receive buffer to %d bytes: %w", n, serr)
	}
	if gerr != nil {
		return 0, fmt.Errorf("read the receive buffer back: %w", gerr)
	}
	return got / readBufferScale, nil
}

// warnSmallReadBuffer logs a warning when the receive buffer the kernel
// granted (got) is smaller than wanted, or could not be set (err), naming
// the sysctl that caps it. It reports whether it warned.
func warnSmallReadBuffer(log *slog.Logger, got, want int, err error) bool {
	if err == nil && got >= want {
		return false
	}
	log.Warn("ICMP receive buffer smaller than wanted: echo replies may be dropped under load, failing probes; "+
		"raise "+rmemSysctl+" (the Debian package ships /usr/lib/sysctl.d/60-understudy.conf) or grant CAP_NET_ADMIN",
		"want_bytes", want, "got_bytes", got, "sysctl", rmemSysctl, "err", err)
	return true
}
