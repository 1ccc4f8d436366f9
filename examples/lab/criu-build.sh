#!/usr/bin/env bash
# criu-build.sh: build a CRIU new enough for this kernel from Debian's own
# source packages, once per machine, under the lab dir.
#
#   bash examples/lab/criu-build.sh          build (idempotent) and print the path
#   bash examples/lab/criu-build.sh auto     what `lab.sh up` runs: the same, except
#                                            that after a failed build it does not try
#                                            again (exit 2, the reason in $DIR/unavailable)
#   bash examples/lab/criu-build.sh path     print the path of a built criu, or exit 1
#
# A build that fails (no source package reachable, a build error) writes its
# reason to $DIR/unavailable and exits 1; `auto` then reports that reason
# (exit 2) without trying again, so a machine where CRIU cannot be built
# pays for the attempt once; `make criu` (no argument) always tries again.
# Two builds at once (two checkouts' `lab.sh up`) wait for each other on
# $DIR/build.lock, not on the lab lock: building needs no lab.
#
# Debian 12's criu 3.17.1 cannot initialise on kernels >= 6.13 (CRIU issue
# 2532) and 4.1.1 cannot dump a TCP listener on kernels >= 6.16 (CRIU issues
# 2705/2718), so the lab builds the newest upstream tree Debian ships as a
# source package (unstable's). The newer suite is added as a deb-src entry
# only, reusing the machine's own Debian URIs, so no binary package can come
# from it, and only while the source is fetched (it is removed after). The
# build dependencies all come from the machine's own suite.
#
# The result is $CRIU_DIR/bin/criu (UNDERSTUDY_CRIU_DIR, default
# /var/lib/understudy-criu: beside the lab dir, not in it, because `lab.sh
# down` removes the whole lab dir, and the build is once per machine).
# Nothing is installed system-wide: liblxc looks "criu" up on the PATH of
# the daemon that calls it, so a daemon started with $CRIU_DIR/bin first on
# its PATH uses this criu and every
# other daemon keeps /usr/sbin/criu. Called by `make criu` and, as `auto`,
# by every `lab.sh up` (unless LAB_CRIU=0).
set -euo pipefail

LOG=${UNDERSTUDY_LAB_LOG:-/tmp/understudy-lab.log}
SUITE=${CRIU_SUITE:-unstable}   # the Debian suite whose criu source is built
MIN_VERSION=${CRIU_MIN_VERSION:-4.2} # older trees fail on this kernel range (above)
DIR=${UNDERSTUDY_CRIU_DIR:-/var/lib/understudy-criu}
BIN=$DIR/bin/criu     # the wrapper below, what liblxc finds on the PATH
REAL=$DIR/libexec/criu # the criu binary built here
SRC_LIST=/etc/apt/sources.list.d/understudy-criu-src.sources
BUILD_DEPS=(build-essential pkg-config libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler
	protobuf-compiler python3-protobuf libnl-3-dev libnet1-dev libcap-dev libbsd-dev
	libgnutls28-dev libaio-dev libnftables-dev uuid-dev xz-utils dpkg-dev)

die() {
	echo "criu-build: FAILED: $*" >&2
	if [ "$MODE" != auto ] && [ -s "$LOG" ]; then tail -n 20 "$LOG" >&2; fi
	if mkdir -p "$DIR" 2>/dev/null; then echo "$*" >"$DIR/unavailable"; fi
	exit 1
}

quiet() {
	echo "+ $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1
}

# built succeeds when a criu from an earlier run is present and runs.
built() {
	[ -x "$REAL" ] && [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1
}

# write_wrapper installs $BIN, which runs $REAL after working around a liblxc
# 5.0 bug (standby/README.md "Restore mode on this kernel"): a container with
# lxc.console.path = none has no /dev/console, but liblxc's dump stats it and
# records its device in tty.info anyway, and its restore then refuses a
# tty.info without a console pty ("lxc.console.path configured on source
# host but not target"). When the recorded device is not a character device
# (major 0: the empty placeholder file the lab image creates), no process can
# hold it open, so the wrapper drops tty.info and the matching --external.
# On restore it makes the image directory searchable (o+x; LXD makes it
# 0700, owned by the container's root): criu 4.2.1 can open timens-0.img in
# the restored init before its uid map is written, as the overflow uid, and
# then fails about one restore in three with "Unable to open timens-0.img:
# Permission denied". The directory above it stays 0100 root, so no host
# user gains access by path.
write_wrapper() {
	cat >"$BIN.tmp" <<-'EOF'
		#!/bin/sh
		# criu wrapper written by understudy's examples/lab/criu-build.sh.
		real=$(dirname "$0")/../libexec/criu
		if [ "$1" = dump ] || [ "$1" = pre-dump ]; then
			dir= prev=
			for a in "$@"; do
				[ "$prev" = -D ] && dir=$a
				prev=$a
			done
			tty=$(cat "$dir/tty.info" 2>/dev/null)
			case "$tty" in
			"tty[0:"*)
				rm -f "$dir/tty.info"
				held=
				for a in "$@"; do
					shift
					if [ -n "$held" ]; then
						held=
						[ "$a" = "$tty" ] && continue
						set -- "$@" --external
					fi
					if [ "$a" = --external ]; then
						held=1
						continue
					fi
					set -- "$@" "$a"
				done
				[ -n "$held" ] && set -- "$@" --external
				;;
			esac
		fi
		if [ "$1" = restore ]; then
			prev=
			for a in "$@"; do
				[ "$prev" = -D ] && chmod o+x "$a"
				prev=$a
			done
		fi
		exec "$real" "$@"
	EOF
	chmod 0755 "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
}

# debian_uri prints the first Debian archive URI the machine already uses
# (deb822 or one-line format), so no mirror name is ever written here.
debian_uri() {
	local f u
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		u=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i !~ /security/) {print $i; exit}}' "$f")
		[ -n "$u" ] && { echo "$u"; return 0; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		u=$(awk '/^deb / && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file|mirror):/) {print $i; exit}}' "$f")
		[ -n "$u" ] && { echo "$u"; return 0; }
	done
	return 1
}

# add_source writes the deb-src entry for $SUITE (source packages only).
add_source() {
	local uri
	uri=$(debian_uri) || die "no Debian archive URI in /etc/apt/sources.list*"
	cat >"$SRC_LIST.tmp" <<-EOF
		# Written by understudy's examples/lab/criu-build.sh: source packages only.
		Types: deb-src
		URIs: $uri
		Suites: $SUITE
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	mv "$SRC_LIST.tmp" "$SRC_LIST"
	# The entry is needed only for the source look-up and download below;
	# left behind, a suite this machine cannot fetch (an Ubuntu or
	# stable-only mirror, no Debian keyring) would fail every later
	# apt-get update, the lab's own included.
	trap 'rm -f "$SRC_LIST"' EXIT
	quiet apt-get update -o Dir::Etc::sourcelist="$SRC_LIST" -o Dir::Etc::sourceparts=- \
		-o APT::Get::List-Cleanup=0 || die "apt-get update of $SRC_LIST"
}

# source_version prints the newest criu source version of $SUITE.
source_version() {
	apt-cache showsrc criu 2>/dev/null | awk '/^Version:/ {print $2}' | sort -V | tail -n 1
}

# fetch downloads and unpacks the upstream tree; the .debian.tar.xz may 404
# on the mirror, which does not matter: the upstream tree is built as is.
fetch() {
	local version=$1 orig
	mkdir -p "$DIR/src"
	(cd "$DIR/src" && quiet apt-get source --download-only "criu=$version") || true
	orig=$(ls "$DIR/src"/criu_"${version%-*}".orig.tar.* 2>/dev/null | head -n 1)
	[ -n "$orig" ] || die "apt-get source criu=$version: no .orig tarball in $DIR/src"
	rm -rf "$DIR/tree" && mkdir -p "$DIR/tree"
	quiet tar -xf "$orig" -C "$DIR/tree" --strip-components=1 || die "unpack $orig"
}

main() {
	if [ "$MODE" = path ]; then
		built && { echo "$BIN"; return 0; }
		return 1
	fi
	[ "$(id -u)" = 0 ] || die "run as root"
	mkdir -p "$DIR"
	exec 9>"$DIR/build.lock"
	flock 9 # another checkout's build: wait for it, then find its result
	if [ -x "$REAL" ] && "$REAL" --version >/dev/null 2>&1; then
		write_wrapper # cheap, and keeps the wrapper current
		rm -f "$DIR/unavailable"
		echo "$BIN"
		return 0
	fi
	if [ "$MODE" = auto ] && [ -s "$DIR/unavailable" ]; then
		echo "criu-build: not built: $(head -n 1 "$DIR/unavailable") (\`make criu\` tries again)" >&2
		exit 2
	fi
	echo "criu-build: building criu from Debian's source packages, once per machine (~1-5 min; log $LOG)" >&2
	quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${BUILD_DEPS[@]}" ||
		die "install the build dependencies"
	add_source
	local version
	version=$(source_version)
	[ -n "$version" ] || die "no criu source package in $SUITE"
	dpkg --compare-versions "$version" ge "$MIN_VERSION" ||
		die "criu source $version in $SUITE is older than $MIN_VERSION"
	fetch "$version"
	rm -f "$SRC_LIST"
	(cd "$DIR/tree" && quiet nice -n 19 make -j2 criu) || die "make criu (log: $LOG)"
	mkdir -p "$DIR/bin" "$DIR/libexec"
	install -m 0755 "$DIR/tree/criu/criu" "$REAL.tmp" && mv "$REAL.tmp" "$REAL"
	write_wrapper
	echo "$version" >"$DIR/version"
	built || die "$BIN does not run"
	rm -f "$DIR/unavailable"
	echo "$BIN"
}

MODE=${1:-build}
case "$MODE" in
build | auto | path) ;;
*)
	echo "usage: criu-build.sh [auto|path]" >&2
	exit 2
	;;
esac
main
