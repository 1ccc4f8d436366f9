package lxd

import (
	"errors"
	"net/http"
	"strings"

	"github.com/lxc/incus/v6/shared/api"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotFound means the instance, snapshot or image alias does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a copy's target instance already exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrStatefulUnsupported means stateful snapshots, restores or live
	// migration were asked for on a client whose CRIU support was not proven
	// (see SetStateful). A failed live migration wedges LXD 5.0, so this work
	// is refused before anything is sent.
	ErrStatefulUnsupported = errors.New("stateful operations are not enabled (CRIU not proven to work)")
	// ErrBusy means the daemon refused because another operation holds the
	// instance's lock ("Instance is busy running a ... operation"), such as
	// the standby agent adjusting a container's live limits. Trying again
	// shortly may succeed. Start, Copy and Delete wrap it.
	ErrBusy = errors.New("instance busy")
	// ErrSwapping means Ensure found the instance missing while its
	// swap's aside instance (the name + inventory.SyncSwapSuffix) exists:
	// a whole-instance sync's Swap is between its renames, and the
	// instance comes back under its name in a moment. Creating it now
	// would put a fresh container in the synced one's place, so nothing is
	// created; try again shortly (the standby agent answers it as a
	// conflict, the monitor's prepare retries).
	ErrSwapping = errors.New("instance is being swapped with its staging copy")
	// ErrStopped means Freeze found the instance stopped and sent nothing:
	// a stopped instance neither serves nor writes (a fence may count it).
	ErrStopped = errors.New("instance stopped")
	// ErrStopping means Freeze found the instance's init gone while the
	// daemon still counts it running (a stop under way: Incus fails the
	// state read with "Invalid PID") and sent nothing. The init took its
	// PID namespace with it, every task is killed: it neither serves nor
	// writes (a fence may count it, as a stopped one).
	ErrStopping = errors.New("instance stopping: its init has exited")
)

// busyText is how LXD and Incus word an instance's held operation lock.
// They send it as text only, with no status code of its own, so busy is the
// one place that reads an error's text; callers branch on ErrBusy.
const busyText = "is busy running"

// busyError keeps an error's text and adds ErrBusy to what it wraps.
type busyError struct{ err error }

func (e busyError) Error() string   { return e.err.Error() }
func (e busyError) Unwrap() []error { return []error{ErrBusy, e.err} }

// busy marks an error that says the instance is busy with ErrBusy and
// returns other errors unchanged.
func busy(err error) error {
	if err != nil && strings.Contains(err.Error(), busyText) {
		return busyError{err}
	}
	return err
}

// notFound maps an HTTP 404 from the daemon to ErrNotFound and returns other
// errors unchanged.
func notFound(err error) error {
	if err != nil && api.StatusErrorCheck(err, http.StatusNotFound) {
		return ErrNotFound
	}
	return err
}

// isNotFound reports whether err is a 404 from the daemon or ErrNotFound.
func isNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || (err != nil && api.StatusErrorCheck(err, http.StatusNotFound))
}
