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
	// ErrUnavailable means the monitor's placement says the service is
	// served nowhere (its failover stuck after the fence, or the standby
	// had no room for it); the request is refused at once. The error is
	// an *UnavailableError carrying the placement's reason.
	ErrUnavailable = errors.New("service unavailable")
	// ErrStreamEnded means the monitor closed the placement stream
	// (monitorapi.ErrStreamEnded).
	ErrStreamEnded = monitorapi.ErrStreamEnded
)

// UnavailableError is ErrUnavailable with the placement's reason
// ("unprotected: no capacity (...)", "stuck: ...").
type UnavailableError struct{ Reason string }

// Error returns "service unavailable: " and the reason.
func (e *UnavailableError) Error() string { return ErrUnavailable.Error() + ": " + e.Reason }

// Unwrap returns ErrUnavailable.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }
