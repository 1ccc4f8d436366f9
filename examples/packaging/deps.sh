#!/usr/bin/env bash
# deps.sh: install the Debian packages that `make deb` and the packaging
# tests use (idempotent; run as root): the shells the completion scripts are
# checked with, groff and man-db for the man pages, systemd for
# `systemd-analyze verify`, adduser for the package's postinst.
# Output goes to UNDERSTUDY_PKG_LOG (default /tmp/understudy-pkg-deps.log).
set -euo pipefail

LOG=${UNDERSTUDY_PKG_LOG:-/tmp/understudy-pkg-deps.log}
PACKAGES=(zsh fish groff-base man-db systemd adduser dpkg)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
# Package scripts must not start daemons of their own.
guard=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	guard=1
fi
rc=0
env DEBIAN_FRONTEND=noninteractive apt-get update >>"$LOG" 2>&1 || rc=$?
[ $rc = 0 ] && { env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	"${missing[@]}" >>"$LOG" 2>&1 || rc=$?; }
[ $guard = 1 ] && rm -f /usr/sbin/policy-rc.d
if [ $rc != 0 ]; then
	echo "deps.sh: apt-get install ${missing[*]} failed; last lines of $LOG:" >&2
	tail -n 20 "$LOG" >&2
	exit 1
fi
