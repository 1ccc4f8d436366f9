#!/usr/bin/env bash
# lab.sh: the understudy local lab, a small real data centre on one machine.
#
#   bash examples/lab/lab.sh up          build or repair the lab (idempotent)
#   bash examples/lab/lab.sh status      show what runs; exit 1 if anything is down
#   bash examples/lab/lab.sh reset-dns   put the zone back to its initial records
#                                        (the secondary transfers it afresh)
#   bash examples/lab/lab.sh down        remove all of it
#   bash examples/lab/lab.sh image       only pack the service image; print its path
#   bash examples/lab/lab.sh cli NAME ARGS...
#                                        run the hypervisor's CLI (incus or lxc)
#                                        against daemon NAME (host-a, host-b, standby-1, spare-1)
#
# LAB_HYPERVISOR picks the daemons: incus (default: Incus 6.0 LTS, on Debian 12
# from bookworm-backports) or lxd (Debian 12's LXD 5.0.2, the compatibility
# target). Both use the same directories, bridges, subnets and ports, so only
# one kind runs at a time: $LAB_DIR/hypervisor records which, `up` of the other
# kind takes the running lab down first, and status, cli, reset-dns and down
# talk to whichever runs (down also kills either kind's leftovers).
#
# Run as root on Debian/Ubuntu. The layout (names, addresses, paths) is the
# contract in HACKING.md "The lab contract"; internal/labtest reads it.
# Everything lives under LAB_DIR (UNDERSTUDY_LAB_DIR, default
# /var/lib/understudy-lab); the only things outside it are the bridges, the
# firewall rules the daemons add for them, the generated examples/lab/lab.yaml
# and, for Incus on Debian 12, /etc/apt/sources.list.d/understudy-backports.sources.
# Command output goes to UNDERSTUDY_LAB_LOG (default /tmp/understudy-lab.log).
# LAB_CRIU=1 also builds a CRIU that works on kernels >= 6.13 (criu-build.sh,
# once per machine) and starts the daemons with it first on their PATH, where
# liblxc looks for "criu"; daemons already running keep theirs (`down` first).
set -euo pipefail

LAB_DIR=${UNDERSTUDY_LAB_DIR:-/var/lib/understudy-lab}
LOG=${UNDERSTUDY_LAB_LOG:-/tmp/understudy-lab.log}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INVENTORY=$HERE/lab.yaml

DAEMONS=(host-a standby-1 spare-1 host-b) # host-b: the second primary hypervisor (the fleet's)
declare -A PORT=([host-a]=8443 [standby-1]=8444 [spare-1]=8445 [host-b]=8446)
declare -A SUBNET=([host-a]=10.200.0 [standby-1]=10.200.1 [spare-1]=10.200.2 [host-b]=10.200.3)
PRIMARIES=(web-vm api-vm)
declare -A PRIMARY_IP=([web-vm]=10.200.0.11 [api-vm]=10.200.0.12)
IMAGE=understudy-busybox
TRUST_PASSWORD=understudy-lab
DNS_ADDR=127.0.0.1 DNS_PORT=5353 ZONE=lab.test KEY_NAME=understudy-key TTL=10
DNS2_PORT=5354 # the secondary of the zone, listed in dns.verify
PACKAGES=(iptables dnsmasq-base bind9 bind9-dnsutils busybox-static
	openssl util-linux iproute2 criu prometheus) # prometheus: promtool for examples/observability
PACKAGES+=(chromium libnss3-tools) # the status page's browser test (monitor/statuspage)
WAIT_LXD=60      # seconds for a daemon to become ready
WAIT_STOP=20     # seconds for a daemon to shut down before SIGKILL
WAIT_HTTP=20     # seconds for a primary to answer HTTP
CRIU_BIN=        # with LAB_CRIU=1: the criu of criu-build.sh

HYPERVISOR=${LAB_HYPERVISOR:-incus}
# The per-hypervisor layer: the daemon's binary (HV_BIN, its process name
# HV_EXE), the env var naming its directory (HV_DIRVAR) and the client's
# config (HV_CONFVAR), the CLI (HV_CLI), its admin commands (HV_ADMIN ...
# waitready|init|shutdown), how it trusts a certificate (HV_TRUST), how it
# creates an instance (HV_CREATE), its packages and the firewall markers it
# leaves (HV_FW_COMMENT: iptables comments; the nftables table is HV_EXE's).
case "$HYPERVISOR" in
incus)
	HV_BIN=/usr/libexec/incus/incusd HV_EXE=incusd HV_DIRVAR=INCUS_DIR HV_CONFVAR=INCUS_CONF
	HV_CLI=incus HV_ADMIN=(incus admin) HV_TRUST=(config trust add-certificate) HV_CREATE=create
	HV_PACKAGES=(incus)
	;;
lxd)
	HV_BIN=lxd HV_EXE=lxd HV_DIRVAR=LXD_DIR HV_CONFVAR=LXD_CONF
	HV_CLI=lxc HV_ADMIN=(lxd) HV_TRUST=(config trust add) HV_CREATE=init
	HV_PACKAGES=(lxd lxd-client)
	;;
*)
	echo "lab.sh: LAB_HYPERVISOR=$HYPERVISOR: want incus or lxd" >&2
	exit 2
	;;
esac
HV_STATE=$LAB_DIR/hypervisor # which kind the lab in LAB_DIR runs

# The client keeps its config here, not in ~/.config.
export "$HV_CONFVAR=$LAB_DIR/.$HV_CLI-client"

T0=$EPOCHREALTIME

# ---------------------------------------------------------------- helpers

# step prints one progress line with the time since the start.
step() {
	local us=$((${EPOCHREALTIME/./} - ${T0/./}))
	printf '[%3d.%ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*"
}

# die prints the reason and the end of the log, then exits.
die() {
	step "FAILED: $*" >&2
	if [ -s "$LOG" ]; then
		echo "--- last lines of $LOG:" >&2
		tail -n 25 "$LOG" >&2
	fi
	exit 1
}

# quiet runs a command with its output in the log.
quiet() {
	echo "+ $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1
}

# lxcd NAME ARGS... runs the hypervisor's client (incus or lxc) against
# daemon NAME over its socket, for at most LXC_TIMEOUT seconds (default 120).
lxcd() {
	local name=$1
	shift
	env "$HV_DIRVAR=$LAB_DIR/$name" timeout "${LXC_TIMEOUT:-120}" "$HV_CLI" --quiet "$@"
}

# hv_admin SECONDS NAME CMD ARGS... runs an admin command (waitready, init,
# shutdown) of the hypervisor against daemon NAME, for at most SECONDS.
hv_admin() {
	local secs=$1 name=$2
	shift 2
	env "$HV_DIRVAR=$LAB_DIR/$name" timeout "$secs" "${HV_ADMIN[@]}" "$@"
}

# lxd_answers NAME [SECONDS] succeeds when the daemon answers its REST API
# within SECONDS (default 10; a busy machine can make it slow).
lxd_answers() {
	[ -S "$LAB_DIR/$1/unix.socket" ] &&
		env "$HV_DIRVAR=$LAB_DIR/$1" timeout "${2:-10}" "$HV_CLI" query /1.0 >/dev/null 2>&1
}

# lxd_process NAME succeeds when the recorded daemon process still runs.
lxd_process() {
	local pid
	pid=$(cat "$LAB_DIR/$1/$HV_EXE.pid" 2>/dev/null) && [ -n "$pid" ] && alive_pid "$pid" &&
		[ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = "$HV_EXE" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$LAB_DIR/$1/"
}

# lab_hypervisor prints the kind of daemons the lab in LAB_DIR runs (its
# state file; a lab made before it existed is an LXD one), or nothing.
lab_hypervisor() {
	if [ -s "$HV_STATE" ]; then
		cat "$HV_STATE"
	elif compgen -G "$LAB_DIR/*/lxd.pid" >/dev/null; then
		echo lxd
	elif compgen -G "$LAB_DIR/*/incusd.pid" >/dev/null; then
		echo incus
	fi
}

# daemon_has_criu NAME succeeds when daemon NAME runs with $CRIU_BIN's
# directory first on its PATH (LAB_CRIU=1 when it started).
daemon_has_criu() {
	local pid
	pid=$(lxd_pid "$1")
	[ -r "/proc/$pid/environ" ] && tr '\0' '\n' <"/proc/$pid/environ" |
		awk -v p="PATH=${CRIU_BIN%/*}:" 'index($0, p) == 1 {f = 1} END {exit !f}'
}

# lxd_pid NAME prints the pid the daemon reports, or the recorded one.
lxd_pid() {
	local pid
	pid=$(env "$HV_DIRVAR=$LAB_DIR/$1" timeout 5 "$HV_CLI" query /1.0 2>/dev/null |
		sed -n 's/.*"server_pid": *\([0-9]*\).*/\1/p') || true
	[ -n "$pid" ] || pid=$(cat "$LAB_DIR/$1/$HV_EXE.pid" 2>/dev/null) || true
	echo "${pid:-?}"
}

# lab_pids DIR prints the pids that belong to the lab under DIR: Incus or LXD daemons,
# their [lxc monitor]s, dnsmasq and forkdns (found by DIR in their command
# line), named (by its config), and the processes of containers whose rootfs
# is under DIR (found by the device and inode of their root directory, since
# /proc/PID/root reads "/" from another mount namespace).
lab_pids() {
	local dir=$1 p exe cmd
	local -A roots=()
	while read -r p; do
		roots[$p]=1
	done < <(find "$dir" -maxdepth 6 -path '*/storage-pools/*/containers/*/rootfs' -prune \
		-printf '%D:%i\n' 2>/dev/null)
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		if [ ${#roots[@]} -gt 0 ] && [ -n "${roots[$(stat -L -c '%d:%i' "$p/root" 2>/dev/null || echo x)]:-}" ]; then
			echo "${p#/proc/}"
			continue
		fi
		case "${exe##*/}" in lxd | incusd | dnsmasq | named) ;; *) continue ;; esac
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case "$cmd" in *"$dir"/*) echo "${p#/proc/}" ;; esac
	done
}

# alive_pid PID succeeds while PID runs (a zombie no longer counts).
alive_pid() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# kill_all PIDS... sends SIGKILL and waits (bounded) until they are gone.
kill_all() {
	[ $# -gt 0 ] || return 0
	kill -9 "$@" 2>/dev/null || true
	local p alive deadline=$((SECONDS + 5))
	while [ $SECONDS -lt $deadline ]; do
		alive=0
		for p in "$@"; do alive_pid "$p" && alive=1; done
		[ $alive = 0 ] && return 0
		sleep 0.1
	done
	echo "processes still alive after SIGKILL: $*" >>"$LOG"
}

# unmount_under DIR unmounts everything mounted below DIR, deepest first.
unmount_under() {
	local m
	awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>>"$LOG" || true
		done
}

# detached CMD... runs CMD in its own session with stdin from /dev/null and
# every inherited descriptor above 2 closed: a daemon must not keep a
# caller's lock (flock(1) passes its locked descriptor down) or pipe open.
detached() {
	local fd
	for fd in "/proc/$BASHPID/fd"/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	cd /
	exec setsid "$@" </dev/null
}

# write_if_changed FILE: stdin becomes FILE unless FILE already holds it.
write_if_changed() {
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
		return 1
	fi
	chmod 644 "$tmp"
	mv "$tmp" "$1"
}

# ---------------------------------------------------------------- packages

# debian_entry SUITE prints "URIS<TAB>SIGNED-BY" of the machine's Debian
# source entry for SUITE (deb822 .sources first, then one-line .list), so
# that the backports suite comes from the mirror the machine already uses.
debian_entry() {
	local suite=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case "$f" in */understudy-*) continue ;; esac
		awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
			{
				uris = ""; sb = ""; deb = 0; ok = 0
				for (i = 1; i <= NF; i++) {
					l = $i
					if (l ~ /^Types:/) { deb = (" " substr(l, 7) " ") ~ /[ \t]deb[ \t]/ }
					else if (l ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", l); uris = l }
					else if (l ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", l); sb = l }
					else if (l ~ /^Suites:/) {
						n = split(substr(l, 8), s, /[ \t]+/)
						for (j = 1; j <= n; j++) if (s[j] == suite) ok = 1
					}
				}
				if (deb && ok && uris != "" && sb !~ /^-----/) { print uris "\t" sb; exit 0 }
			}' "$f" | grep . && return 0
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v suite="$suite" '$1 == "deb" {
			sb = ""; i = 2
			if ($2 ~ /^\[/) {
				for (; i <= NF; i++) {
					if ($i ~ /signed-by=/) { sb = $i; sub(/.*signed-by=/, "", sb); sub(/\]$/, "", sb) }
					if ($i ~ /\]$/) { i++; break }
				}
			}
			if ($(i + 1) == suite) { print $i "\t" sb; exit 0 }
		}' | grep .
}

# ensure_backports adds Debian 12's backports suite (Incus 6.0 LTS) in a
# file of the lab's own, with the URIs and key of the machine's own Debian
# entry, at its default low priority: only what is asked for with
# `-t bookworm-backports` comes from it. It sets HV_TARGET to those options
# (empty elsewhere: Ubuntu and newer Debian carry incus in their archive).
ensure_backports() {
	local id codename entry sb file=/etc/apt/sources.list.d/understudy-backports.sources
	HV_TARGET=()
	id=$(. /etc/os-release && echo "${ID:-}")
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ "$id" = debian ] && [ "$codename" = bookworm ] || return 0
	entry=$(debian_entry bookworm) ||
		die "no Debian bookworm entry in /etc/apt/sources.list{,.d} to take the backports suite's URIs from"
	sb=${entry#*$'\t'}
	write_if_changed "$file" <<-EOF && step "apt: added bookworm-backports ($file)"
		# Written by understudy's examples/lab/lab.sh: Incus 6.0 LTS comes from here
		# (apt-get install -t bookworm-backports); default priority, nothing else upgrades.
		Types: deb
		URIs: ${entry%%$'\t'*}
		Suites: bookworm-backports
		Components: main
		${sb:+Signed-By: $sb}
	EOF
	HV_TARGET=(-t bookworm-backports)
}

ensure_packages() {
	local missing=() hv_missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	for p in "${HV_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || hv_missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && [ ${#hv_missing[@]} = 0 ] && return 0
	step "installing ${missing[*]} ${hv_missing[*]}"
	# Package scripts must not start system daemons (bind9, lxd, incus) of their own.
	local guard=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		guard=1
	fi
	local rc=0
	HV_TARGET=()
	if [ "$HYPERVISOR" = incus ] && [ ${#hv_missing[@]} -gt 0 ]; then ensure_backports; fi
	quiet env DEBIAN_FRONTEND=noninteractive apt-get update || rc=$?
	# The lab's own packages from the release itself; only the hypervisor
	# comes from backports (with HV_TARGET), with what it depends on.
	[ $rc = 0 ] && [ ${#missing[@]} -gt 0 ] && { quiet env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" || rc=$?; }
	[ $rc = 0 ] && [ ${#hv_missing[@]} -gt 0 ] && { quiet env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${HV_TARGET[@]}" "${hv_missing[@]}" || rc=$?; }
	[ $guard = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ $rc = 0 ] || die "apt-get install ${missing[*]} ${HV_TARGET[*]} ${hv_missing[*]}"
}

# ---------------------------------------------------------------- daemons

# start_daemon NAME starts the daemon unless it answers. A daemon that does
# not answer is cleaned up first: left-over processes killed, stale mounts
# under its directory unmounted. Its directory is reused as it is.
start_daemon() {
	local name=$1 dir=$LAB_DIR/$1
	if lxd_answers "$name"; then
		return 0
	fi
	# A daemon that still runs may only be slow (starting, or a busy
	# machine): give it time before treating it as hung.
	if lxd_process "$name"; then
		if hv_admin $((WAIT_LXD + 5)) "$name" waitready --timeout $WAIT_LXD >>"$LOG" 2>&1; then
			return 0
		fi
		step "$HYPERVISOR $name: pid $(cat "$dir/$HV_EXE.pid") does not answer for ${WAIT_LXD}s; restarting it"
	fi
	mkdir -p "$dir"
	local pids mounts
	pids=$(lab_pids "$dir")
	mounts=$(awk -v d="$dir/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l)
	if [ -n "$pids" ] || [ "$mounts" -gt 0 ]; then
		# shellcheck disable=SC2086
		kill_all $pids
		unmount_under "$dir"
		remove_stale_cgroups "$dir"
		step "$HYPERVISOR $name: cleaned up after its last run ($(echo "$pids" | wc -w) processes killed, $mounts stale mounts)"
	fi
	rm -f "$dir/unix.socket"
	echo "+ start $HV_BIN $name" >>"$LOG"
	# Its own session, so it outlives the calling shell.
	(export "$HV_DIRVAR=$dir" && PATH=${CRIU_BIN:+${CRIU_BIN%/*}:}$PATH detached nohup "$HV_BIN" --group root \
		--logfile "$dir/$HV_EXE.log" >"$dir/$HV_EXE.out" 2>&1) &
	echo $! >"$dir/$HV_EXE.pid"
	STARTED+=("$name")
}

wait_daemon() {
	local name=$1 dir=$LAB_DIR/$1
	hv_admin $((WAIT_LXD + 5)) "$name" waitready --timeout $WAIT_LXD >>"$LOG" 2>&1 ||
		{ tail -n 5 "$dir/$HV_EXE.log" >>"$LOG" 2>/dev/null || true; die "$HYPERVISOR $name did not become ready in ${WAIT_LXD}s (see $dir/$HV_EXE.log)"; }
}

# preseed NAME NET PASSWORD-LINE initialises a fresh daemon in one preseed.
preseed() {
	local name=$1 net=$2 password=$3
	hv_admin 120 "$name" init --preseed >>"$LOG" 2>&1 <<-EOF
		config:
		  core.https_address: 127.0.0.1:${PORT[$name]}
		  $password
		storage_pools:
		- name: default
		  driver: dir
		networks:
		- name: us-$name
		  type: bridge
		  config:
		    ipv4.address: $net.1/24
		    ipv4.nat: "false"
		    ipv4.dhcp.ranges: $net.200-$net.254
		    ipv6.address: none
		profiles:
		- name: default
		  devices:
		    root: {path: /, pool: default, type: disk}
		    eth0: {name: eth0, network: us-$name, type: nic}
	EOF
}

# init_daemon NAME gives a fresh daemon its storage pool, bridge, default
# profile and HTTPS address (one preseed), then checks the result. Only LXD
# gets a trust password (Incus has none; no test uses it).
init_daemon() {
	local name=$1 net=${SUBNET[$1]} password=
	[ "$HYPERVISOR" = lxd ] && password="core.trust_password: $TRUST_PASSWORD"
	local pools
	pools=$(lxcd "$name" query /1.0/storage-pools 2>>"$LOG") || die "$HYPERVISOR $name: list its storage pools"
	pools=$(echo "$pools" | tr -d ' \n')
	# An empty list reads "[]" from lxc and nothing from incus.
	if [ -z "$pools" ] || [ "$pools" = "[]" ]; then
		# A bridge left by an earlier lab (or whose last ports a dying
		# container still holds: Incus then fails to list them) makes the
		# network creation fail; the preseed reverts, so it is tried again.
		local try
		for try in 1 2 3; do
			echo "+ preseed $name (try $try)" >>"$LOG"
			ip link del "us-$name" 2>/dev/null || true
			preseed "$name" "$net" "$password" && break
			[ "$try" = 3 ] && die "preseed $HYPERVISOR $name"
			sleep 1
		done
		step "$HYPERVISOR $name: initialised (pool, bridge us-$name $net.1/24, https 127.0.0.1:${PORT[$name]})"
	fi
	lxcd "$name" query /1.0/profiles/default 2>>"$LOG" | grep -q "\"us-$name\"" ||
		die "$HYPERVISOR $name: its default profile has no eth0 on us-$name; run \`lab.sh down\` then \`up\`"
	[ -s "$LAB_DIR/$name/server.crt" ] || die "$HYPERVISOR $name: no server certificate at $LAB_DIR/$name/server.crt"
}

# client_cert makes the client certificate every daemon trusts.
client_cert() {
	[ -s "$LAB_DIR/client.crt" ] && [ -s "$LAB_DIR/client.key" ] && return 0
	(umask 077 && quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$LAB_DIR/client.key.tmp" -out "$LAB_DIR/client.crt.tmp" -days 3650 \
		-subj "/CN=understudy-lab-client" -addext "extendedKeyUsage=clientAuth") ||
		die "openssl: client certificate"
	mv "$LAB_DIR/client.key.tmp" "$LAB_DIR/client.key"
	mv "$LAB_DIR/client.crt.tmp" "$LAB_DIR/client.crt"
	step "client certificate: $LAB_DIR/client.crt"
}

trust_client() {
	local name=$1 fp
	fp=$(openssl x509 -in "$LAB_DIR/client.crt" -noout -fingerprint -sha256 |
		sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
	lxcd "$name" query "/1.0/certificates/$fp" >/dev/null 2>&1 && return 0
	quiet lxcd "$name" "${HV_TRUST[@]}" "$LAB_DIR/client.crt" --name understudy-lab ||
		die "$HYPERVISOR $name: trust the client certificate"
	step "$HYPERVISOR $name: trusts client.crt"
}

# ---------------------------------------------------------------- image

# build_image packs the image once; it is packed again only when its
# sources (the init and service scripts, busybox) change.
build_image() {
	local tarball=$LAB_DIR/image/$IMAGE.tar.gz stamp
	stamp=$(cat "$HERE/busybox-init.sh" "$HERE/busybox-service.sh" /bin/busybox | sha256sum | cut -d' ' -f1)
	[ -s "$tarball" ] && [ "$(cat "$tarball.sources" 2>/dev/null)" = "$stamp" ] && return 0
	local b=$LAB_DIR/image/build a
	rm -rf "$b"
	mkdir -p "$b"/rootfs/{bin,sbin,dev,proc,sys,tmp,run,etc,root,var/www}
	cp /bin/busybox "$b/rootfs/bin/busybox"
	for a in $("$b/rootfs/bin/busybox" --list); do
		case "$a" in busybox | init | linuxrc) continue ;; esac
		ln -s busybox "$b/rootfs/bin/$a"
	done
	install -m 0755 "$HERE/busybox-init.sh" "$b/rootfs/sbin/init"
	install -m 0755 "$HERE/busybox-service.sh" "$b/rootfs/sbin/understudy-service"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$b/rootfs/etc/passwd"
	echo 'root:x:0:' >"$b/rootfs/etc/group"
	echo '127.0.0.1 localhost' >"$b/rootfs/etc/hosts"
	chmod 1777 "$b/rootfs/tmp"
	cat >"$b/metadata.yaml" <<-EOF
		architecture: $(uname -m)
		creation_date: $(date +%s)
		properties:
		  description: understudy busybox service (httpd on :80 answering its hostname)
		  os: busybox
		  release: "$("$b/rootfs/bin/busybox" | head -n 1 | awk '{print $2}')"
	EOF
	tar -C "$b" --numeric-owner --owner=0 --group=0 -czf "$tarball.tmp" metadata.yaml rootfs ||
		die "pack the image"
	mv "$tarball.tmp" "$tarball"
	echo "$stamp" >"$tarball.sources"
	rm -rf "$b"
	step "image: built $tarball ($(du -k "$tarball" | cut -f1) KiB)"
}

# import_image NAME points the alias at the current tarball on daemon NAME,
# importing it when missing. Containers made from an older build keep theirs.
import_image() {
	local name=$1 tarball=$LAB_DIR/image/$IMAGE.tar.gz fp alias
	fp=$(sha256sum "$tarball" | cut -d' ' -f1)
	alias=$(lxcd "$name" query "/1.0/images/aliases/$IMAGE" 2>/dev/null) || alias=
	case "$alias" in *"\"$fp\""*) return 0 ;; esac
	if [ -n "$alias" ]; then
		quiet lxcd "$name" image alias delete "$IMAGE" || die "$HYPERVISOR $name: drop the old alias $IMAGE"
	fi
	if lxcd "$name" query "/1.0/images/$fp" >/dev/null 2>&1; then
		quiet lxcd "$name" image alias create "$IMAGE" "$fp" || die "$HYPERVISOR $name: alias $IMAGE"
	else
		quiet lxcd "$name" image import "$tarball" --alias "$IMAGE" || die "$HYPERVISOR $name: import $IMAGE"
	fi
	step "$HYPERVISOR $name: image $IMAGE imported"
}

# ---------------------------------------------------------------- primaries

# instance_status NAME VM prints RUNNING, STOPPED, FROZEN, ... or nothing.
instance_status() {
	lxcd "$1" list --format csv -c ns 2>/dev/null | awk -F, -v n="$2" '$1 == n { print $2 }'
}

ensure_primary() {
	local vm=$1 ip=${PRIMARY_IP[$1]} status
	status=$(instance_status host-a "$vm")
	if [ -z "$status" ]; then
		quiet lxcd host-a "$HV_CREATE" "$IMAGE" "$vm" -c "environment.IPADDR=$ip/24" \
			-c "environment.GATEWAY=${SUBNET[host-a]}.1" || die "create $vm"
		step "host-a: created $vm ($ip)"
		status=STOPPED
	fi
	case "$status" in
	RUNNING) return 0 ;;
	ERROR) quiet lxcd host-a stop --force "$vm" || true ;;
	esac
	# `lxc start` also unfreezes a frozen instance.
	quiet lxcd host-a start "$vm" || die "start $vm"
	step "host-a: started $vm (was ${status,,})"
}

# http_get ADDR prints the body of http://ADDR/ (one second budget). Plain
# bash: busybox-static's wget crashes (SIGSEGV) on these machines.
http_get() {
	# shellcheck disable=SC2016
	timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/80" &&
		printf "GET / HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3 &&
		sed "1,/^\r\$/d" <&3' _ "$1" 2>/dev/null
}

wait_primaries() {
	local vm deadline=$((SECONDS + WAIT_HTTP)) pending
	while :; do
		pending=()
		for vm in "${PRIMARIES[@]}"; do
			[ "$(http_get "${PRIMARY_IP[$vm]}")" = "$vm" ] || pending+=("$vm")
		done
		[ ${#pending[@]} = 0 ] && return 0
		[ $SECONDS -ge $deadline ] && die "no HTTP answer from ${pending[*]} within ${WAIT_HTTP}s"
		sleep 0.1
	done
}

# ---------------------------------------------------------------- DNS

DNS_DIR=$LAB_DIR/dns
DNS2_DIR=$LAB_DIR/dns2
# Knot DNS and PowerDNS beside BIND (dns_servers_up/status/reset/down).
# shellcheck source=examples/lab/dns-servers.sh
. "$HERE/dns-servers.sh"
PACKAGES+=("${DNS_SERVER_PACKAGES[@]}")

# dns_answers [PORT] succeeds when the server on PORT (default the primary's)
# answers the zone's SOA; a secondary does once it has transferred the zone.
dns_answers() {
	dig @"$DNS_ADDR" -p "${1:-$DNS_PORT}" +time=1 +tries=1 +short "$ZONE." SOA 2>/dev/null | grep -q .
}

# dns_serial PORT prints the zone's SOA serial on the server on PORT.
dns_serial() {
	dig @"$DNS_ADDR" -p "$1" +time=1 +tries=1 +short "$ZONE." SOA 2>/dev/null | awk '{ print $3 }'
}

# named_pid [DIR] prints the pid of the named whose directory is DIR
# (default the primary's).
named_pid() {
	local pid dir=${1:-$DNS_DIR}
	pid=$(cat "$dir/named.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && alive_pid "$pid" && [ "$(basename "$(readlink "/proc/$pid/exe")")" = named ] && echo "$pid"
}

write_named_conf() {
	write_if_changed "$DNS_DIR/named.conf" <<-EOF
		// Generated by examples/lab/lab.sh: the lab's authoritative server.
		options {
		  directory "$DNS_DIR";
		  listen-on port $DNS_PORT { $DNS_ADDR; };
		  listen-on-v6 { none; };
		  pid-file "$DNS_DIR/named.pid";
		  session-keyfile "$DNS_DIR/session.key";
		  managed-keys-directory "$DNS_DIR";
		  recursion no;
		  allow-recursion { none; };
		  dnssec-validation no;
		  // Every change is announced to the secondary at once (the default
		  // notify-delay holds back a NOTIFY for 5 s after the previous one).
		  notify explicit;
		  also-notify { $DNS_ADDR port $DNS2_PORT; };
		  notify-delay 0;
		};
		controls { };
		include "$DNS_DIR/tsig.key";
		logging {
		  channel lab { file "$DNS_DIR/named.log" versions 2 size 5m; print-time yes; severity info; };
		  category default { lab; };
		  category lame-servers { null; };
		};
		zone "$ZONE" {
		  type primary;
		  file "$DNS_DIR/$ZONE.zone";
		  update-policy { grant $KEY_NAME zonesub ANY; };
		  allow-transfer { key $KEY_NAME; };
		};
	EOF
}

# write_named2_conf writes the secondary's config: it transfers the zone
# from the primary with the TSIG key and refreshes when the primary's NOTIFY
# arrives. Its own lock file lets it run beside the primary. Like
# write_if_changed it fails when the file was already up to date.
write_named2_conf() {
	write_if_changed "$DNS2_DIR/named.conf" <<-EOF
		// Generated by examples/lab/lab.sh: the lab's secondary (dns.verify).
		options {
		  directory "$DNS2_DIR";
		  listen-on port $DNS2_PORT { $DNS_ADDR; };
		  listen-on-v6 { none; };
		  pid-file "$DNS2_DIR/named.pid";
		  lock-file "$DNS2_DIR/named.lock";
		  session-keyfile "$DNS2_DIR/session.key";
		  managed-keys-directory "$DNS2_DIR";
		  recursion no;
		  allow-recursion { none; };
		  dnssec-validation no;
		  notify no;
		};
		controls { };
		include "$DNS_DIR/tsig.key";
		logging {
		  channel lab { file "$DNS2_DIR/named.log" versions 2 size 5m; print-time yes; severity info; };
		  category default { lab; };
		  category lame-servers { null; };
		};
		zone "$ZONE" {
		  type secondary;
		  file "$DNS2_DIR/$ZONE.zone";
		  primaries { $DNS_ADDR port $DNS_PORT key $KEY_NAME; };
		  allow-notify { $DNS_ADDR; };
		  allow-transfer { none; };
		};
	EOF
}

write_zone() {
	rm -f "$DNS_DIR/$ZONE.zone.jnl"
	cat >"$DNS_DIR/$ZONE.zone" <<-EOF
		\$TTL $TTL
		@    IN SOA ns.$ZONE. hostmaster.$ZONE. ( $(date +%s) 60 30 600 $TTL )
		@    IN NS  ns.$ZONE.
		ns   IN A   $DNS_ADDR
		web  IN A   ${PRIMARY_IP[web-vm]}
		api  IN A   ${PRIMARY_IP[api-vm]}
	EOF
}

# stop_named [DIR] stops the named of DIR (default the primary's).
stop_named() {
	local pid dir=${1:-$DNS_DIR}
	pid=$(named_pid "$dir") && kill "$pid" 2>/dev/null
	local deadline=$((SECONDS + 5))
	while [ -n "${pid:-}" ] && alive_pid "$pid" && [ $SECONDS -lt $deadline ]; do
		sleep 0.1
	done
	# shellcheck disable=SC2046
	kill_all $(lab_pids "$dir" | while read -r p; do
		[ "$(basename "$(readlink "/proc/$p/exe" 2>/dev/null)")" = named ] && echo "$p"
	done)
	rm -f "$dir/named.pid"
}

# start_named [DIR PORT] starts the named of DIR and waits until it answers
# the zone on PORT (default the primary).
start_named() {
	local dir=${1:-$DNS_DIR} port=${2:-$DNS_PORT}
	echo "+ named -c $dir/named.conf -u root" >>"$LOG"
	(detached named -c "$dir/named.conf" -u root -4 >>"$LOG" 2>&1) || die "start named ($dir)"
	local deadline=$((SECONDS + 10))
	while [ $SECONDS -lt $deadline ]; do
		dns_answers "$port" && return 0
		sleep 0.1
	done
	die "named does not answer zone $ZONE. on $DNS_ADDR:$port (see $dir/named.log)"
}

# reload_named [DIR] makes the running named of DIR (the primary's by
# default) read a changed config (SIGHUP): it keeps serving and keeps its zone
# and journal; it is not restarted.
reload_named() {
	local pid dir=${1:-$DNS_DIR}
	pid=$(named_pid "$dir") || return 0
	kill -HUP "$pid"
	step "dns: named (pid $pid, $dir) reloaded its changed config"
}

ensure_dns() {
	mkdir -p "$DNS_DIR"
	if [ ! -s "$DNS_DIR/tsig.key" ]; then
		(umask 077 && tsig-keygen -a hmac-sha256 "$KEY_NAME" >"$DNS_DIR/tsig.key.tmp") || die "tsig-keygen"
		mv "$DNS_DIR/tsig.key.tmp" "$DNS_DIR/tsig.key"
		step "dns: TSIG key $KEY_NAME in $DNS_DIR/tsig.key"
	fi
	# understudy refuses a key file its group or other users may read.
	chmod 600 "$DNS_DIR/tsig.key"
	local changed=0
	write_named_conf && changed=1
	[ -s "$DNS_DIR/$ZONE.zone" ] || write_zone
	if named_pid >/dev/null; then
		[ $changed = 0 ] || reload_named
		local try
		for try in 1 2 3 4 5; do
			dns_answers && return 0
			echo "named: no answer (try $try)" >>"$LOG"
		done
		step "dns: named (pid $(named_pid)) does not answer; restarting it"
	fi
	stop_named
	start_named
	step "dns: named answers on $DNS_ADDR:$DNS_PORT (zone $ZONE.)"
}

# ensure_dns2 runs the secondary; it never touches the primary.
ensure_dns2() {
	mkdir -p "$DNS2_DIR"
	local changed=0
	write_named2_conf && changed=1
	if named_pid "$DNS2_DIR" >/dev/null; then
		[ $changed = 0 ] || reload_named "$DNS2_DIR"
		dns_answers "$DNS2_PORT" || dns_answers "$DNS2_PORT" || dns_answers "$DNS2_PORT" && return 0
		step "dns: secondary named (pid $(named_pid "$DNS2_DIR")) does not answer; restarting it"
	fi
	stop_named "$DNS2_DIR"
	start_named "$DNS2_DIR" "$DNS2_PORT"
	step "dns: secondary named answers on $DNS_ADDR:$DNS2_PORT (zone $ZONE. from $DNS_ADDR:$DNS_PORT)"
}

# reset_dns2 starts the secondary from scratch: a zone rewritten by
# reset-dns may carry a lower serial than the copy it holds.
reset_dns2() {
	stop_named "$DNS2_DIR"
	rm -f "$DNS2_DIR/$ZONE.zone" "$DNS2_DIR/$ZONE.zone.jnl"
	ensure_dns2
}

# ---------------------------------------------------------------- PKI

# issue NAME EXTENSIONS signs NAME.crt with the lab CA.
issue() {
	local p=$1 name=$2 ext=$3
	quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$p/$name.key" -out "$p/$name.csr" -subj "/CN=understudy-$name" ||
		die "openssl: $name key"
	quiet openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" \
		-CAcreateserial -days 825 -out "$p/$name.crt" -extfile <(printf '%b\n' "$ext") ||
		die "openssl: $name certificate"
	rm -f "$p/$name.csr"
}

ensure_pki() {
	local final=$LAB_DIR/pki p=$LAB_DIR/pki.tmp
	if [ ! -s "$final/monitor.crt" ]; then new_pki "$p" "$final"; fi
	ensure_api_certs "$final"
}

# new_pki TMP FINAL: the CA, the agent's server and the monitor's client
# certificate, made in TMP and moved to FINAL at once.
new_pki() {
	local p=$1 final=$2
	rm -rf "$p"
	mkdir -p "$p"
	chmod 700 "$p"
	quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$p/ca.key" -out "$p/ca.crt" -days 3650 -subj "/CN=understudy lab CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" ||
		die "openssl: CA"
	issue "$p" agent 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost'
	issue "$p" monitor 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
	rm -f "$p/ca.srl"
	rm -rf "$final"
	mv "$p" "$final"
	step "pki: CA, agent and monitor certificates in $final"
}

# ensure_api_certs DIR: the certificates of the monitor's API
# (monitor.api-tls), added to a lab PKI that lacks them: monitor-api for
# the monitors (server and client: they call each other; SAN 127.0.0.1 and
# localhost) and operator for the commands and the proxy
# (monitor.api-client-tls).
ensure_api_certs() {
	local p=$1
	[ -s "$p/monitor-api.crt" ] && [ -s "$p/operator.crt" ] && return 0
	issue "$p" monitor-api 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost'
	issue "$p" operator 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
	rm -f "$p/ca.srl"
	step "pki: monitor API certificates (monitor-api, operator) in $p"
}

# ---------------------------------------------------------------- configs

write_configs() {
	local changed=()
	write_if_changed "$INVENTORY" <<-EOF && changed+=("$INVENTORY")
		# Generated by examples/lab/lab.sh for the local lab; do not edit (git-ignored).
		lab: true
		dns: {server: $DNS_ADDR:$DNS_PORT, zone: $ZONE., tsig-key-file: $DNS_DIR/tsig.key, ttl: ${TTL}s,
		      verify: [$DNS_ADDR:$DNS2_PORT]}
		monitor:
		  listen: 127.0.0.1:9180
		  state-dir: $LAB_DIR/monitor
		  interval: 250ms
		  timeout: 100ms
		  fails: 3
		  passes: 2
		  # The lab is for drills: allow many round trips before flap damping.
		  flap: {max: 50, window: 1h}
		  agent-tls: {ca: $LAB_DIR/pki/ca.crt, cert: $LAB_DIR/pki/monitor.crt, key: $LAB_DIR/pki/monitor.key}
		  # The API serves HTTPS only and wants a client certificate of the lab CA.
		  api-tls: {ca: $LAB_DIR/pki/ca.crt, cert: $LAB_DIR/pki/monitor-api.crt, key: $LAB_DIR/pki/monitor-api.key}
		  api-client-tls: {ca: $LAB_DIR/pki/ca.crt, cert: $LAB_DIR/pki/operator.crt, key: $LAB_DIR/pki/operator.key}
		hypervisors:
		  - {name: host-a, address: ${SUBNET[host-a]}.1, zone: az1, incus: {socket: $LAB_DIR/host-a/unix.socket}}
		  - {name: host-b, address: ${SUBNET[host-b]}.1, zone: az2, incus: {socket: $LAB_DIR/host-b/unix.socket}}
		vms:
		  - {name: web-vm, hypervisor: host-a, instance: web-vm, address: ${PRIMARY_IP[web-vm]}}
		  - {name: api-vm, hypervisor: host-a, instance: api-vm, address: ${PRIMARY_IP[api-vm]}}
		standby:
		  - {name: standby-1, agent: https://127.0.0.1:9443, zone: az1, capacity: {containers: 20, memory: 4GiB},
		     incus: {socket: $LAB_DIR/standby-1/unix.socket},
		     network: {gateway: ${SUBNET[standby-1]}.1, prefix-len: 24, pool: ${SUBNET[standby-1]}.100-${SUBNET[standby-1]}.129}}
		spares:
		  - name: spare-1
		    zone: az1
		    capacity: {containers: 4, memory: 2GiB}
		    incus:
		      url: https://127.0.0.1:${PORT[spare-1]}
		      client-cert: $LAB_DIR/client.crt
		      client-key: $LAB_DIR/client.key
		      server-cert: $LAB_DIR/spare-1/server.crt
		    network: {gateway: ${SUBNET[spare-1]}.1, prefix-len: 24, pool: ${SUBNET[spare-1]}.100-${SUBNET[spare-1]}.129}
		    # Its steal and load, for placement (understudy agent --config $LAB_DIR/spare-agent.yaml).
		    agent: https://127.0.0.1:9444
		proxy: {listen: 127.0.0.1:8080}
		services:
		  - name: web
		    fqdn: web.$ZONE.
		    vm: web-vm
		    port: 80
		    check: {http: {path: /, expect-status: 200}}
		    standby: standby-1
		    mode: warm
		    role: frontend
		    failback: manual
		    container: {image: $IMAGE, limits: {cpu: 1, memory: 128MiB}}
		  - name: api
		    fqdn: api.$ZONE.
		    vm: api-vm
		    port: 80
		    check: {tcp: {}}
		    standby: standby-1
		    mode: cold
		    role: backend
		    failback: manual
		    container: {image: $IMAGE, limits: {cpu: 1, memory: 128MiB}}
	EOF
	# The standby agent of standby-1 (understudy agent --config $LAB_DIR/agent.yaml).
	write_if_changed "$LAB_DIR/agent.yaml" <<-EOF && changed+=("$LAB_DIR/agent.yaml")
		# Generated by examples/lab/lab.sh: the standby agent of standby-1.
		name: standby-1
		listen: 127.0.0.1:9443
		tls:
		  cert: $LAB_DIR/pki/agent.crt
		  key: $LAB_DIR/pki/agent.key
		  client-ca: $LAB_DIR/pki/ca.crt
		incus: {socket: $LAB_DIR/standby-1/unix.socket}
		state-dir: $LAB_DIR/agent-state
		criu: {path: ${CRIU_BIN:-criu}}
		network:
		  gateway: ${SUBNET[standby-1]}.1
		  prefix-len: 24
		  pool: ${SUBNET[standby-1]}.100-${SUBNET[standby-1]}.129
		capacity: {containers: 20, memory: 4GiB}
		max-parallel: 4
	EOF
	# The agent on spare-1: it only reports the spare's steal and load.
	write_if_changed "$LAB_DIR/spare-agent.yaml" <<-EOF && changed+=("$LAB_DIR/spare-agent.yaml")
		# Generated by examples/lab/lab.sh: the agent on spare-1 (capacity only).
		name: spare-1
		listen: 127.0.0.1:9444
		tls:
		  cert: $LAB_DIR/pki/agent.crt
		  key: $LAB_DIR/pki/agent.key
		  client-ca: $LAB_DIR/pki/ca.crt
		incus: {socket: $LAB_DIR/spare-1/unix.socket}
		state-dir: $LAB_DIR/spare-agent-state
		criu: {disable: true}
	EOF
	[ ${#changed[@]} = 0 ] || step "wrote ${changed[*]}"
}

# ---------------------------------------------------------------- commands

cmd_up() {
	[ "$(id -u)" = 0 ] || die "run as root"
	local running
	running=$(lab_hypervisor)
	[ -z "$running" ] || [ "$running" = "$HYPERVISOR" ] ||
		die "the lab in $LAB_DIR still runs $running, not $HYPERVISOR; run \`lab.sh down\` first"
	ensure_packages
	mkdir -p "$LAB_DIR"
	chmod 711 "$LAB_DIR"
	echo "$HYPERVISOR" >"$HV_STATE"
	# With no config directory the incus client greets a "first time" user on
	# stdout, into the answers this script reads.
	mkdir -p "$LAB_DIR/.$HV_CLI-client"
	if [ "${LAB_CRIU:-0}" = 1 ]; then
		CRIU_BIN=$(bash "$HERE/criu-build.sh") || die "criu-build.sh"
		step "criu: $CRIU_BIN ($("$CRIU_BIN" --version | head -n 1)) for the daemons started now"
	fi

	# The daemons start in parallel; each is then waited for and set up.
	STARTED=()
	local name
	for name in "${DAEMONS[@]}"; do start_daemon "$name"; done
	for name in "${STARTED[@]}"; do
		wait_daemon "$name"
		step "$HYPERVISOR $name: started (pid $(lxd_pid "$name"))"
	done
	if [ -n "$CRIU_BIN" ] && ! daemon_has_criu standby-1; then
		# The agent's probe must see the criu the daemon runs, or it would ask
		# a Debian 12 criu for stateful work (LAB.md: stuck operations).
		step "criu: $HYPERVISOR standby-1 runs without $CRIU_BIN on its PATH; agent.yaml keeps criu (\`lab.sh down\` then \`LAB_CRIU=1 lab.sh up\`)"
		CRIU_BIN=
	fi
	client_cert
	build_image
	for name in "${DAEMONS[@]}"; do
		init_daemon "$name"
		trust_client "$name"
		import_image "$name"
	done

	local vm
	for vm in "${PRIMARIES[@]}"; do ensure_primary "$vm"; done
	wait_primaries
	ensure_dns
	ensure_dns2
	dns_servers_up
	ensure_pki
	mkdir -p "$LAB_DIR/monitor" "$LAB_DIR/agent-state" "$LAB_DIR/spare-agent-state"
	write_configs
	local us=$((${EPOCHREALTIME/./} - ${T0/./}))
	step "lab up ($(hv_version host-a)) in $((us / 1000000)).$((us / 100000 % 10)) s: web-vm, api-vm answer HTTP; named on $DNS_ADDR:$DNS_PORT, secondary on $DNS_ADDR:$DNS2_PORT; inventory $INVENTORY"
}

# hv_version NAME prints the daemon's server name and version, e.g. "incus 6.0.4".
hv_version() {
	lxcd "$1" query /1.0 2>/dev/null | awk -F'"' '$2 == "server" && !s { s = $4 } $2 == "server_version" && !v { v = $4 }
		END { if (s != "") print s, v; else print "?" }'
}

cmd_status() {
	local rc=0 name vm pid ip body running
	running=$(lab_hypervisor)
	if [ -z "$running" ]; then
		echo "hypervisor none (no lab in $LAB_DIR)"
		return 1
	fi
	echo "hypervisor $HYPERVISOR ($(hv_version host-a))"
	for name in "${DAEMONS[@]}"; do
		if lxd_answers "$name"; then
			printf '%-10s up    pid %-7s https://127.0.0.1:%s  bridge us-%s %s.1/24\n' \
				"$name" "$(lxd_pid "$name")" "${PORT[$name]}" "$name" "${SUBNET[$name]}"
			lxcd "$name" list --format csv -c ns4 2>/dev/null | while IFS=, read -r vm st ip; do
				printf '  %-22s %-8s %s\n' "$vm" "$st" "${ip%% *}"
			done
		else
			printf '%-10s DOWN  (%s does not answer)\n' "$name" "$LAB_DIR/$name/unix.socket"
			rc=1
		fi
	done
	for vm in "${PRIMARIES[@]}"; do
		body=$(http_get "${PRIMARY_IP[$vm]}") || true
		if [ "$body" = "$vm" ]; then
			printf 'http://%-12s answers %s\n' "${PRIMARY_IP[$vm]}/" "$body"
		else
			printf 'http://%-12s DOWN (primary %s)\n' "${PRIMARY_IP[$vm]}/" "$vm"
			rc=1
		fi
	done
	if pid=$(named_pid) && { dns_answers || dns_answers || dns_answers; }; then
		printf 'named      up    pid %-7s %s:%s zone %s.\n' "$pid" "$DNS_ADDR" "$DNS_PORT" "$ZONE"
		dig @"$DNS_ADDR" -p "$DNS_PORT" +time=1 +tries=1 -k "$DNS_DIR/tsig.key" \
			+noall +answer "$ZONE." AXFR 2>/dev/null | awk '$4 == "A" { printf "  %-28s %-4s A %s\n", $1, $2, $5 }'
	else
		printf 'named      DOWN  (%s:%s does not answer)\n' "$DNS_ADDR" "$DNS_PORT"
		rc=1
	fi
	if pid=$(named_pid "$DNS2_DIR") && { dns_answers "$DNS2_PORT" || dns_answers "$DNS2_PORT"; }; then
		printf 'named2     up    pid %-7s %s:%s secondary of %s. serial %s (primary %s)\n' "$pid" "$DNS_ADDR" "$DNS2_PORT" \
			"$ZONE" "$(dns_serial "$DNS2_PORT")" "$(dns_serial "$DNS_PORT")"
	else
		printf 'named2     DOWN  (secondary %s:%s does not answer zone %s.)\n' "$DNS_ADDR" "$DNS2_PORT" "$ZONE"
		rc=1
	fi
	dns_servers_status || rc=1
	if [ -f "$INVENTORY" ]; then
		echo "inventory  $INVENTORY"
	else
		echo "inventory  MISSING ($INVENTORY)"
		rc=1
	fi
	return $rc
}

cmd_reset_dns() {
	[ -s "$DNS_DIR/tsig.key" ] || die "no lab DNS in $DNS_DIR; run \`lab.sh up\`"
	stop_named
	write_named_conf || true
	write_zone
	start_named
	reset_dns2
	dns_servers_reset
	step "dns: zone $ZONE. reset to web -> ${PRIMARY_IP[web-vm]}, api -> ${PRIMARY_IP[api-vm]} (secondary re-transferred it)"
}

# stop_daemon NAME stops a daemon and everything it left behind; bounded.
stop_daemon() {
	local name=$1 dir=$LAB_DIR/$1
	if lxd_answers "$name"; then
		# Forced stops are quick; a clean daemon shutdown then has nothing to wait for.
		LXC_TIMEOUT=$WAIT_STOP quiet lxcd "$name" stop --all --force || true
		hv_admin $((WAIT_STOP + 5)) "$name" shutdown --timeout $WAIT_STOP >>"$LOG" 2>&1 ||
			echo "$HYPERVISOR $name: shutdown did not finish; killing" >>"$LOG"
	fi
	# shellcheck disable=SC2046
	kill_all $(lab_pids "$dir")
	unmount_under "$dir"
	ip link del "us-$name" 2>/dev/null || true
}

# delete_fw_rules removes what LXD or Incus added to the firewall for the lab
# bridges: iptables rules by their comment, nftables chains of the tables
# inet lxd and inet incus by their bridge suffix (and an incus table left
# empty).
delete_fw_rules() {
	local cmd table rule re='generated for (LXD|Incus) network us-(host-a|host-b|standby-1|spare-1)'
	for cmd in iptables ip6tables; do
		command -v $cmd >/dev/null || continue
		for table in filter nat mangle raw; do
			{ $cmd -w -t $table -S 2>/dev/null || true; } | { grep -E "$re" || true; } |
				while read -r rule; do
					eval "$cmd -w -t $table ${rule/#-A/-D}" 2>>"$LOG" || true
				done
		done
	done
	command -v nft >/dev/null || return 0
	for table in lxd incus; do
		nft list table inet $table >/dev/null 2>&1 || continue
		nft list table inet $table | awk '$1 == "chain" { print $2 }' |
			{ grep -E '\.us-(host-a|host-b|standby-1|spare-1)$' || true; } |
			while read -r chain; do
				nft delete chain inet $table "$chain" 2>>"$LOG" || true
			done
		if [ $table = incus ] && ! nft list table inet incus 2>/dev/null | grep -q '^[[:space:]]*chain '; then
			nft delete table inet incus 2>>"$LOG" || true
		fi
	done
}

# remove_stale_cgroups DIR removes the empty cgroups that containers of the
# daemons under DIR left behind when they were killed (a running container's
# cgroup is not empty, so rmdir leaves it alone).
remove_stale_cgroups() {
	local c n
	for c in "$1"/*/containers/* "$1"/containers/*; do
		[ -e "$c" ] || continue
		n=${c##*/}
		find /sys/fs/cgroup -maxdepth 3 -type d \( -name "lxc.payload.$n" -o -name "lxc.payload.$n-[0-9]*" \
			-o -name "lxc.monitor.$n" -o -name "lxc.monitor.$n-[0-9]*" \) 2>/dev/null |
			while read -r d; do
				find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
			done
	done
}

cmd_down() {
	[ "$(id -u)" = 0 ] || die "run as root"
	local name pids=()
	if [ -d "$LAB_DIR" ]; then
		for name in "${DAEMONS[@]}"; do
			stop_daemon "$name" &
			pids+=($!)
		done
		wait "${pids[@]}" || true
		step "$HYPERVISOR: daemons stopped"
		stop_named "$DNS2_DIR"
		stop_named
		dns_servers_down
		step "dns: named and its secondary stopped"
		# Anything left (a container whose daemon lost track of it).
		# shellcheck disable=SC2046
		kill_all $(lab_pids "$LAB_DIR")
		unmount_under "$LAB_DIR"
		remove_stale_cgroups "$LAB_DIR"
	fi
	for name in "${DAEMONS[@]}"; do ip link del "us-$name" 2>/dev/null || true; done
	delete_fw_rules
	if awk -v d="$LAB_DIR/" 'index($5, d) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		die "mounts remain under $LAB_DIR; not removing it"
	fi
	rm -rf --one-file-system "$LAB_DIR"
	rm -f "$INVENTORY"
	step "lab down: $LAB_DIR, bridges, firewall rules and $INVENTORY removed"
}

main() {
	local cmd=${1:-}
	case "$cmd" in
	up | down | status | reset-dns | image | cli) ;;
	*)
		echo "usage: $0 up|down|status|reset-dns|image|cli NAME ARGS..." >&2
		exit 2
		;;
	esac
	local running
	running=$(lab_hypervisor)
	if [ -n "$running" ] && [ "$running" != "$HYPERVISOR" ]; then
		if [ "$cmd" = up ]; then
			# The other kind's lab goes first: both use the same bridges,
			# subnets and ports.
			echo "lab.sh: the lab runs $running; taking it down for $HYPERVISOR" >&2
			LAB_HYPERVISOR=$running bash "${BASH_SOURCE[0]}" down >&2 || exit 1
		else
			# Everything else talks to the daemons that run, whatever
			# LAB_HYPERVISOR says (down stops any kind's leftovers as well).
			LAB_HYPERVISOR=$running exec bash "${BASH_SOURCE[0]}" "$@"
		fi
	fi
	if [ "$cmd" = cli ]; then
		[ $# -ge 2 ] || { echo "usage: $0 cli NAME ARGS..." >&2; exit 2; }
		shift
		lxcd "$@"
		return
	fi
	: >>"$LOG" 2>/dev/null || LOG=/dev/null
	echo "=== $(date -u +%FT%TZ) lab.sh $cmd" >>"$LOG"
	[ "$cmd" = status ] && { cmd_status; return; }
	if [ "$cmd" = image ]; then # only pack this tree's image (criu-drill.sh uses its own LAB_DIR)
		mkdir -p "$LAB_DIR/image"
		build_image >&2
		echo "$LAB_DIR/image/$IMAGE.tar.gz"
		return
	fi
	# One lab.sh that changes the lab at a time.
	exec 9>/tmp/understudy-lab-sh.lock
	flock -w 900 9 || die "another lab.sh has held /tmp/understudy-lab-sh.lock for 15 minutes"
	case "$cmd" in
	up) cmd_up ;;
	down) cmd_down ;;
	reset-dns) cmd_reset_dns ;;
	esac
}

main "$@"
