//go:build !linux

package icmp

import "errors"

// forceReadBuffer: only Linux has SO_RCVBUFFORCE; SO_RCVBUF is tried next.
func forceReadBuffer(int, int) error { return errors.New("no SO_RCVBUFFORCE") }

// readBufferScale: other kernels report the size set as is.
const readBufferScale = 1
