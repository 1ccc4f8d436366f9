// Package launch prepares and starts a drill (package drill) for the CLI:
// ConfigFor builds its Config from the inventory (the drilled service's
// primary and check, and the neighbours a fault takes down with it), and
// RunWaiting runs it, retrying a refused preflight for up to --wait.
package launch
