package lxd

import (
	"errors"
	"net/http"

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
)

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
