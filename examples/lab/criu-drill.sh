#!/usr/bin/env bash
# criu-drill.sh: prove (or disprove) a stateful stop and restore of the lab's
# busybox service container with the criu of criu-build.sh, on a scratch LXD
# daemon of its own, and measure restore against a cold start.
#
#   bash examples/lab/criu-drill.sh [RUNS]        (RUNS default 5; as root)
#   bash examples/lab/criu-drill.sh live [RUNS]   live migration downtime
#
# The scratch daemon (LXD_DIR=$LAB_DIR/criu/lxd, bridge us-criu 10.203.0.1/24,
# https 127.0.0.1:8453) runs with the built criu first on its PATH; the
# shared lab's daemons are not touched. It is removed at the end unless
# KEEP=1. Raw results go to $LAB_DIR/criu/drill.tsv (one line per run:
# run, kind, milliseconds, counter) and the medians to stdout.
#
# `live` adds a second scratch daemon (LXD_DIR=$LAB_DIR/criu/lxd2, https
# 127.0.0.1:8454, its containers bridged onto us-criu, so an address moves
# with its container) and measures, while a poller GETs the application
# every 50 ms, the longest gap between answers of a live `lxc move` (CRIU)
# and of a stop-move-start, into $LAB_DIR/criu/live.tsv (run, kind, move ms,
# gap ms, counter before, counter after).
#
# The "slow application" is a busybox shell loop that warms up for 2 s and
# then answers each GET on :8080 with a counter held only in its memory: a
# restore that keeps its state answers the next number, a cold start 1.
set -euo pipefail

LAB_DIR=${UNDERSTUDY_LAB_DIR:-/var/lib/understudy-lab}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNS=${1:-5}
[ "$RUNS" = live ] && RUNS=5
DIR=$LAB_DIR/criu
export LXD_DIR=$DIR/lxd LXD_CONF=$DIR/lxc-client
BRIDGE=us-criu NET=10.203.0 PORT=8453
NAME=us-criu-slow ADDR=10.203.0.10
TARBALL= # this tree's image, packed by `lab.sh image` under $DIR/image-lab
OUT=$DIR/drill.tsv
# Restore-mode instance config (standby/README.md "Restore mode on this
# kernel"): no console (liblxc 5.0 restores no console pty) and no AppArmor
# profile (liblxc would pass --lsm-profile apparmor:unconfined, which criu
# refuses on a kernel without AppArmor).
RAW_LXC=$'lxc.console.path = none\nlxc.apparmor.profile ='

die() {
	echo "criu-drill: FAILED: $*" >&2
	exit 1
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# get prints the slow application's answer, or fails.
get() { curl -fsS -m 1 "http://$ADDR:8080/" 2>/dev/null; }

# wait_get waits (at most 60 s) for the application to answer and prints it.
wait_get() {
	local i body
	for ((i = 0; i < 600; i++)); do
		body=$(get) && { echo "$body"; return 0; }
		sleep 0.1
	done
	return 1
}

start_scratch() {
	local bin
	bin=$(bash "$HERE/criu-build.sh" path) || die "no built criu: run \`make criu\` first"
	mkdir -p "$LXD_DIR" "$LXD_CONF"
	if ! timeout 5 lxc query /1.0 >/dev/null 2>&1; then
		(PATH=$(dirname "$bin"):$PATH setsid nohup lxd --group root --logfile "$LXD_DIR/lxd.log" \
			>"$LXD_DIR/lxd.out" 2>&1) &
		echo $! >"$LXD_DIR/lxd.pid"
		timeout 90 lxd waitready --timeout 80 || die "scratch lxd did not start (see $LXD_DIR/lxd.log)"
	fi
	if [ "$(lxc query /1.0/storage-pools | tr -d ' \n')" = "[]" ]; then
		ip link del "$BRIDGE" 2>/dev/null || true
		timeout 120 lxd init --preseed <<-EOF || die "preseed the scratch lxd"
			config:
			  core.https_address: 127.0.0.1:$PORT
			storage_pools:
			- name: default
			  driver: dir
			networks:
			- name: $BRIDGE
			  type: bridge
			  config: {ipv4.address: $NET.1/24, ipv4.nat: "false", ipv6.address: none}
			profiles:
			- name: default
			  devices:
			    root: {path: /, pool: default, type: disk}
			    eth0: {name: eth0, network: $BRIDGE, type: nic}
		EOF
	fi
	# Its own image from this tree's scripts: the shared lab's tarball is
	# whatever the last `lab.sh up` of any checkout packed.
	TARBALL=$(UNDERSTUDY_LAB_DIR=$DIR/image-lab bash "$HERE/lab.sh" image) || die "lab.sh image"
	local fp
	fp=$(sha256sum "$TARBALL" | cut -c1-64) # a unified tarball's fingerprint
	if ! lxc image info "$fp" >/dev/null 2>&1; then
		lxc image alias delete understudy-busybox >/dev/null 2>&1 || true
		lxc image import "$TARBALL" --alias understudy-busybox >/dev/null
	fi
}

stop_scratch() {
	local d pid
	for d in "$DIR/lxd2" "$DIR/lxd"; do
		[ -S "$d/unix.socket" ] || continue
		LXD_DIR=$d lxc delete -f "$NAME" >/dev/null 2>&1 || true
		pid=$(cat "$d/lxd.pid" 2>/dev/null) || continue
		# A failed live move leaves uncancellable operations and a hanging
		# `lxd shutdown` (LAB.md): then the daemon is killed.
		LXD_DIR=$d timeout 60 lxd shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	done
	# What a killed (or LXD 5.0 even after a clean shutdown) leaves: its
	# dnsmasq, mounts, bridge and iptables rules. Only this drill's names.
	local p
	for p in $(pgrep -x dnsmasq); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$DIR/lxd/networks/" && kill "$p"
	done
	awk -v d="$DIR/lxd" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n 1 umount -l
	ip link del "$BRIDGE" 2>/dev/null || true
	iptables-save 2>/dev/null | awk '/^\*/ {t = substr($1, 2)}
		/^-A / && /generated for LXD network us-criu"/ {sub(/^-A /, ""); print t "\t" $0}' |
		while IFS=$'\t' read -r t rule; do eval "iptables -t $t -D $rule" || true; done
}

# start_second starts the live-migration target daemon and makes both
# daemons remotes of the scratch client (s1, s2).
start_second() {
	local d=$DIR/lxd2 bin
	bin=$(bash "$HERE/criu-build.sh" path)
	mkdir -p "$d"
	if ! LXD_DIR=$d timeout 5 lxc query /1.0 >/dev/null 2>&1; then
		(PATH=$(dirname "$bin"):$PATH LXD_DIR=$d setsid nohup lxd --group root --logfile "$d/lxd.log" \
			>"$d/lxd.out" 2>&1) &
		echo $! >"$d/lxd.pid"
		LXD_DIR=$d timeout 90 lxd waitready --timeout 80 || die "second scratch lxd did not start"
	fi
	if [ "$(LXD_DIR=$d lxc query /1.0/storage-pools | tr -d ' \n')" = "[]" ]; then
		LXD_DIR=$d timeout 120 lxd init --preseed <<-EOF || die "preseed the second scratch lxd"
			config: {core.https_address: "127.0.0.1:$((PORT + 1))"}
			storage_pools: [{name: default, driver: dir}]
			profiles:
			- name: default
			  devices:
			    root: {path: /, pool: default, type: disk}
			    eth0: {name: eth0, nictype: bridged, parent: $BRIDGE, type: nic}
		EOF
	fi
	if ! lxc remote list --format csv | grep -q '^s1[ ,]'; then
		lxc config set core.trust_password understudy-criu
		lxc remote add s1 "127.0.0.1:$PORT" --password understudy-criu --accept-certificate >/dev/null
	fi
	if ! lxc remote list --format csv | grep -q '^s2[ ,]'; then
		LXD_DIR=$d lxc config set core.trust_password understudy-criu
		lxc remote add s2 "127.0.0.1:$((PORT + 1))" --password understudy-criu --accept-certificate >/dev/null
	fi
}

# live_run RUN KIND moves the running application s1 -> s2, live (CRIU) or
# stop-move-start, while polling it, and appends its line to $LIVE.
live_run() {
	local run=$1 kind=$2 log t0 t1 rc=0 poller
	lxc delete -f "s1:$NAME" >/dev/null 2>&1 || true
	lxc delete -f "s2:$NAME" >/dev/null 2>&1 || true
	lxc launch s1:understudy-busybox "s1:$NAME" -c raw.lxc="$RAW_LXC" \
		-c environment.IPADDR="$ADDR/24" -c environment.GATEWAY="$NET.1" >/dev/null
	NAME_REMOTE=s1:$NAME app_start
	wait_get >/dev/null || die "live run $run: the application never answered"
	log=$(mktemp)
	(while :; do
		b=$(get) && echo "$(now_ms) $b" >>"$log"
		sleep 0.05
	done) &
	poller=$!
	sleep 1
	t0=$(now_ms)
	if [ "$kind" = live ]; then
		# LXD 5.0 moves it, then often fails to delete the source ("busy
		# running a stop operation"): the copy runs on s2 all the same.
		timeout 120 lxc move "s1:$NAME" "s2:$NAME" >/dev/null 2>&1 || rc=$?
	else
		lxc stop -f "s1:$NAME" && timeout 120 lxc move "s1:$NAME" "s2:$NAME" >/dev/null 2>&1 &&
			lxc start "s2:$NAME" && NAME_REMOTE=s2:$NAME app_start || rc=$?
	fi
	t1=$(now_ms)
	wait_get >/dev/null || true
	sleep 1
	kill "$poller"
	wait "$poller" 2>/dev/null || true
	[ "$(lxc list s2: "$NAME" -c s --format csv)" = RUNNING ] || die "live run $run ($kind): not running on s2 (move rc $rc)"
	awk -v run="$run" -v kind="$kind" -v ms=$((t1 - t0)) 'NR > 1 && $1 - pt > max {max = $1 - pt; b = pb; a = $2}
		{pt = $1; pb = $2} END {printf "%d\t%s\t%d\t%d\t%s\t%s\n", run, kind, ms, max, b, a}' "$log" >>"$LIVE"
	rm -f "$log"
}

live() {
	local runs=$1 run kind
	LIVE=$DIR/live.tsv
	start_second
	: >"$LIVE"
	for ((run = 1; run <= runs; run++)); do
		for kind in live stop-start; do live_run "$run" "$kind"; done
	done
	lxc delete -f "s1:$NAME" >/dev/null 2>&1 || true
	lxc delete -f "s2:$NAME" >/dev/null 2>&1 || true
	echo "raw results: $LIVE (run, kind, move ms, longest gap between answers ms, counter before, after)"
	for kind in live stop-start; do
		awk -F'\t' -v k="$kind" '$2 == k {print $4}' "$LIVE" | sort -n |
			awk -v k="$kind" '{v[NR] = $1} END {printf "%-10s downtime median %d ms of %d runs\n", k, v[int((NR + 1) / 2)], NR}'
	done
}

# app_start starts the slow application inside the container, detached.
app_start() {
	lxc exec "${NAME_REMOTE:-$NAME}" -- sh -c 'setsid sh -c "sleep 2; i=0; while true; do i=\$((i+1)); printf \"HTTP/1.0 200 OK\r\n\r\n%s\n\" \$i | nc -l -p 8080 >/dev/null; done" </dev/null >/dev/null 2>&1 &'
}

main() {
	[ "$(id -u)" = 0 ] || die "run as root"
	start_scratch
	[ "${KEEP:-0}" = 1 ] || trap stop_scratch EXIT
	if [ "${1:-}" = live ]; then
		live "${2:-5}"
		return
	fi
	lxc delete -f "$NAME" >/dev/null 2>&1 || true
	lxc init understudy-busybox "$NAME" -c raw.lxc="$RAW_LXC" \
		-c environment.IPADDR="$ADDR/24" -c environment.GATEWAY="$NET.1" >/dev/null
	: >"$OUT"
	local run t0 n
	for ((run = 1; run <= RUNS; run++)); do
		# Cold start: container start, application warm-up, first answer.
		t0=$(now_ms)
		lxc start "$NAME"
		app_start
		n=$(wait_get) || die "run $run: cold start never answered"
		printf '%d\tcold\t%d\t%s\n' "$run" $(($(now_ms) - t0)) "$n" >>"$OUT"
		lxc exec "$NAME" -- test -e /dev/console ||
			die "the image has no /dev/console placeholder (busybox-init.sh)"
		n=$(get) # the state to keep: the next answer after a restore is n+1
		t0=$(now_ms)
		lxc stop --stateful "$NAME" || die "run $run: stateful stop"
		printf '%d\tcheckpoint\t%d\t%s\n' "$run" $(($(now_ms) - t0)) "$n" >>"$OUT"
		t0=$(now_ms)
		lxc start "$NAME" || die "run $run: restore (lxc info --show-log $NAME)"
		n=$(wait_get) || die "run $run: restored container never answered"
		printf '%d\trestore\t%d\t%s\n' "$run" $(($(now_ms) - t0)) "$n" >>"$OUT"
		lxc stop -f "$NAME"
	done
	echo "raw results: $OUT (run, kind, ms, counter)"
	local kind
	for kind in cold checkpoint restore; do
		awk -F'\t' -v k="$kind" '$2 == k {print $3}' "$OUT" | sort -n |
			awk -v k="$kind" '{v[NR] = $1} END {printf "%-10s median %d ms of %d runs\n", k, v[int((NR + 1) / 2)], NR}'
	done
	awk -F'\t' '$2 == "restore" && $4 < 2 {bad = 1} END {if (bad) {print "state LOST: a restore answered 1"; exit 1} else print "state kept: every restore answered the counter after the checkpoint"}' "$OUT"
}

main "$@"
