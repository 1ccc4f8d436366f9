package icmp

import "syscall"

// forceReadBuffer sets SO_RCVBUFFORCE: beyond net.core.rmem_max, for root
// or CAP_NET_ADMIN.
func forceReadBuffer(fd, n int) error {
	return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
}
