#!/usr/bin/env bash
# bench/seeds-image.sh: the full-OS "VM" image of the seeds experiments
# (issue 20): a Debian 12 root filesystem made with debootstrap from Debian's
# packages, systemd as init and lighttpd serving the container's hostname,
# imported as alias understudy-debian on host-a, standby-1 and spare-1.
#
#   sudo bash bench/seeds-image.sh        build once per machine, import where missing
#
# The packages come from the machine's own Debian entry (its URIs read at run
# time by `lab.sh debian-entry bookworm`; no mirror is named here). The build
# is cached under SEEDS_DIR (UNDERSTUDY_SEEDS_DIR, default
# /var/lib/understudy-seeds): rootfs/ and understudy-debian.tar, rebuilt only
# when the build changes (the hash of its functions in
# understudy-debian.tar.stamp). Not part
# of `lab.sh up`: `make bench-seeds` calls it. The build takes no lab lock;
# the imports, only where the image is missing or older, take it
# (/tmp/understudy-lab.lock) unless BENCH_LOCKED=1 says the caller holds it.
#
# Networking: like the busybox image, the container takes its address from
# environment.IPADDR (CIDR) and environment.GATEWAY; the unit
# understudy-net.service reads them from /proc/1/environ, configures eth0 and
# announces the address with a gratuitous ARP, before lighttpd starts.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS_DIR=${UNDERSTUDY_SEEDS_DIR:-/var/lib/understudy-seeds}
ALIAS=understudy-debian
LAB=examples/lab/lab.sh
ROOT=$SEEDS_DIR/rootfs
TAR=$SEEDS_DIR/$ALIAS.tar
DAEMONS=(host-a standby-1 spare-1)
[ "$(id -u)" = 0 ] || { echo "bench/seeds-image.sh: run as root" >&2; exit 1; }
step() { echo "seeds-image: $*" >&2; }

ensure_debootstrap() {
	command -v debootstrap >/dev/null && return 0
	step "installing debootstrap"
	apt-get install -y --no-install-recommends debootstrap >&2
}

# write_units puts the network unit and the page into the root filesystem.
write_units() {
	cat >"$ROOT/usr/local/sbin/understudy-net" <<-'SH'
		#!/bin/sh
		# understudy-net: eth0 from environment.IPADDR/GATEWAY (PID 1's environment).
		set -e
		env=$(tr '\0' '\n' </proc/1/environ)
		ip=$(echo "$env" | sed -n 's/^IPADDR=//p')
		gw=$(echo "$env" | sed -n 's/^GATEWAY=//p')
		ip link set lo up
		[ -n "$ip" ] || exit 0
		ip link set eth0 up
		ip addr replace "$ip" dev eth0
		[ -z "$gw" ] || ip route replace default via "$gw"
		arping -U -c 1 -I eth0 "${ip%/*}" >/dev/null 2>&1 || true
	SH
	chmod 755 "$ROOT/usr/local/sbin/understudy-net"
	cat >"$ROOT/etc/systemd/system/understudy-net.service" <<-'UNIT'
		[Unit]
		Description=understudy lab address from environment.IPADDR
		Before=network.target lighttpd.service
		Wants=network.target
		[Service]
		Type=oneshot
		RemainAfterExit=yes
		ExecStart=/usr/local/sbin/understudy-net
		[Install]
		WantedBy=multi-user.target
	UNIT
	cat >"$ROOT/etc/systemd/system/understudy-page.service" <<-'UNIT'
		[Unit]
		Description=understudy page: the hostname, so a GET tells which copy answered
		Before=lighttpd.service
		[Service]
		Type=oneshot
		RemainAfterExit=yes
		ExecStart=/bin/sh -c 'hostname >/var/www/html/index.html'
		[Install]
		WantedBy=multi-user.target
	UNIT
	chroot "$ROOT" systemctl enable understudy-net.service understudy-page.service lighttpd.service >&2
	# Nothing else waits on a network that the container does not manage.
	chroot "$ROOT" systemctl mask systemd-networkd-wait-online.service getty@.service console-getty.service \
		systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
	# No static hostname: systemd keeps the one Incus gives (the instance name).
	rm -f "$ROOT/etc/hostname"
}

build() {
	local entry uri stamp
	stamp=$(declare -f ensure_debootstrap write_units build | sha256sum | cut -d' ' -f1)
	[ -s "$TAR" ] && [ "$(cat "$TAR.stamp" 2>/dev/null)" = "$stamp" ] && { step "cached: $TAR"; return 0; }
	ensure_debootstrap
	entry=$(bash "$LAB" debian-entry bookworm) ||
		{ echo "bench/seeds-image.sh: no Debian bookworm entry in /etc/apt/sources.list{,.d}" >&2; exit 1; }
	uri=${entry%%$'\t'*}
	uri=${uri%% *}
	mkdir -p "$SEEDS_DIR"
	rm -rf --one-file-system "$ROOT"
	step "debootstrap bookworm into $ROOT (a few minutes; log in $SEEDS_DIR/debootstrap.log)"
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,iputils-arping,lighttpd \
		bookworm "$ROOT" "$uri" >"$SEEDS_DIR/debootstrap.log" 2>&1 &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 10
		step "  $(du -sm "$ROOT" 2>/dev/null | cut -f1) MB, $(tail -n 1 "$SEEDS_DIR/debootstrap.log" | cut -c1-70)"
	done
	wait "$pid" || { tail -n 20 "$SEEDS_DIR/debootstrap.log" >&2; exit 1; }
	write_units
	rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
	step "packing $TAR ($(du -sm "$ROOT" | cut -f1) MB)"
	local meta
	meta=$(mktemp -d)
	cat >"$meta/metadata.yaml" <<-META
		architecture: $(uname -m)
		creation_date: $(date +%s)
		properties:
		  description: understudy seeds full-OS primary (Debian 12, systemd, lighttpd)
		  os: debian
		  release: bookworm
	META
	tar -C "$meta" -cf "$TAR.tmp" metadata.yaml
	tar -C "$SEEDS_DIR" --numeric-owner --xattrs -rf "$TAR.tmp" --transform 's,^rootfs,rootfs,' rootfs
	rm -rf "$meta"
	mv "$TAR.tmp" "$TAR"
	echo "$stamp" >"$TAR.stamp"
}

# current NAME: whether daemon NAME holds the image of this tarball (a read:
# no lock).
current() {
	local fp
	fp=$({ bash "$LAB" cli "$1" image info "$ALIAS" 2>/dev/null || true; } | awk '/^Fingerprint:/ {print $2}')
	[ "$fp" = "$(sha256sum "$TAR" | cut -d' ' -f1)" ]
}

# import NAME: the image on daemon NAME, replaced when the tarball changed.
import() {
	local name=$1
	current "$name" && { step "$name: $ALIAS present"; return 0; }
	bash "$LAB" cli "$name" image delete "$ALIAS" >/dev/null 2>&1 || true
	step "$name: importing $ALIAS"
	bash "$LAB" cli "$name" image import "$TAR" --alias "$ALIAS" >&2
}

# raise_inotify: every systemd instance takes several inotify instances
# (PID 1, journald, its .path units), all counted against root's
# fs.inotify.max_user_instances (128 by default); past it a Debian instance
# hangs in its boot with its .path units failed. 20 of them need more.
raise_inotify() {
	local cur
	cur=$(sysctl -n fs.inotify.max_user_instances)
	[ "$cur" -ge 1024 ] && return 0
	step "fs.inotify.max_user_instances $cur -> 1024 (many systemd instances)"
	sysctl -qw fs.inotify.max_user_instances=1024
}

build
raise_inotify
missing=()
for d in "${DAEMONS[@]}"; do current "$d" || missing+=("$d"); done
if [ ${#missing[@]} = 0 ]; then
	step "ready: $ALIAS on ${DAEMONS[*]}"
	exit 0
fi
if [ "${BENCH_LOCKED:-0}" = 1 ]; then
	for d in "${missing[@]}"; do import "$d"; done
else
	flock /tmp/understudy-lab.lock env BENCH_LOCKED=1 bash "$0"
	exit 0
fi
step "ready: $ALIAS on ${DAEMONS[*]}"
