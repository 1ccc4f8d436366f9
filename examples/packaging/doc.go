// Package packaging holds the Debian package of understudy (`make deb`:
// build-deb.sh, nfpm.yaml, the systemd units, the default configuration and
// the maintainer scripts) and its tests; it has no Go code of its own.
package packaging
