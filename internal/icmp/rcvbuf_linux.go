package icmp

import "syscall"

// forceReadBuffer sets SO_RCVBUFFORCE: beyond net.core.rmem_max, for root
// or CAP_NET_ADMIN.
func forceReadBuffer(fd, n int) error {
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
}

// readBufferScale undoes Linux's doubling: getsockopt(SO_RCVBUF) reports
// twice the size set, the extra half being the kernel's bookkeeping.
const readBufferScale = 2
