package proxy

import (
	"errors"

	"github.com/understudy/understudy/internal/monitorapi"
)

// Errors the proxy answers with or callers may branch on.
var (
	// ErrHoldTimeout means a held request waited its service's whole hold
	// without the backend coming back or the placement changing.
	ErrHoldTimeout = errors.New("hold timed out")
	// ErrQueueFull means the service already holds as many requests as its
	// queue allows.
	ErrQueueFull = errors.New("hold queue full")
	// ErrStopped means the proxy is shutting down.
	ErrStopped = errors.New("proxy stopped")
	// ErrBackendSuspect is the cause given to in-flight requests cancelled
	// because their backend was found down while they waited for it.
	ErrBackendSuspect = errors.New("backend suspect")
	// ErrPlacementMoved is the cause given to in-flight requests cancelled
	// because their service's placement moved to another address while
	// they waited for response headers (a frozen backend would keep them
	// hanging): they are sent again to the new placement.
	ErrPlacementMoved = errors.New("placement moved")
	// ErrStreamEnded means the monitor closed the placement stream
	// (monitorapi.ErrStreamEnded).
	ErrStreamEnded = monitorapi.ErrStreamEnded
)
