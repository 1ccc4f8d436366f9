#!/usr/bin/env bash
# criu-drill.sh: prove (or disprove) a stateful stop and restore of the lab's
# busybox image in its slow-application mode (environment.SLOW=1,
# busybox-service.sh) with the criu of criu-build.sh, on a scratch Incus or
# LXD daemon of its own, and measure restore against a cold start.
#
#   bash examples/lab/criu-drill.sh [RUNS]        (RUNS default 5; as root)
#   bash examples/lab/criu-drill.sh live [RUNS]   live migration downtime
#   bash examples/lab/criu-drill.sh start|stop    only start (or remove) the
#                                                 scratch daemon (KEEP=1 implied by start)
#
# LAB_HYPERVISOR picks the daemon: incus (default, /usr/libexec/incus/incusd)
# or lxd (LXD 5.0). Each kind has its own scratch dir, bridge and ports, none
# of them the shared lab's, so both may exist at once and the shared lab's
# daemons are never touched (CRIU_DIR is criu-build.sh's, default
# /var/lib/understudy-criu, which `lab.sh down` does not remove):
#   incus  INCUS_DIR=$CRIU_DIR/incus, bridge us-criu-inc 10.204.0.1/24,
#          https 127.0.0.1:8455 (live target: criu/incus2, 127.0.0.1:8456)
#   lxd    LXD_DIR=$CRIU_DIR/lxd, bridge us-criu 10.203.0.1/24,
#          https 127.0.0.1:8453 (live target: criu/lxd2, 127.0.0.1:8454)
# The daemon runs with the built criu first on its PATH (liblxc runs the
# first "criu" on its daemon's PATH). It is removed at the end unless KEEP=1.
# Raw results go to $CRIU_DIR/drill-KIND.tsv (one line per run: run,
# kind, milliseconds, counter) and the medians to stdout.
#
# `live` adds a second scratch daemon (its containers bridged onto the
# first's bridge, so an address moves with its container) and measures,
# while a poller GETs the application every 50 ms, the longest gap between
# answers of a live move (CRIU) and of a stop-move-start, into
# $CRIU_DIR/live-KIND.tsv (run, kind, move ms, gap ms, counter before,
# counter after).
#
# The "slow application" is the image's SLOW=1 service: a busybox shell loop
# that warms up for 2 s and then answers each GET on :80 with a counter held
# only in its memory: a restore that keeps its state answers the next
# number, a cold start 1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${UNDERSTUDY_CRIU_DIR:-/var/lib/understudy-criu} # criu-build.sh's, not in the lab dir
HYPERVISOR=${LAB_HYPERVISOR:-incus}
case "$HYPERVISOR" in
incus)
	HV_DAEMON=/usr/libexec/incus/incusd HV_CLI=incus HV_ADMIN=(incus admin)
	HV_DIRVAR=INCUS_DIR HV_CONFVAR=INCUS_CONF
	SDIR=$DIR/incus BRIDGE=us-criu-inc NET=10.204.0 PORT=8455
	;;
lxd)
	HV_DAEMON=lxd HV_CLI=lxc HV_ADMIN=(lxd)
	HV_DIRVAR=LXD_DIR HV_CONFVAR=LXD_CONF
	SDIR=$DIR/lxd BRIDGE=us-criu NET=10.203.0 PORT=8453
	;;
*)
	echo "criu-drill: LAB_HYPERVISOR=$HYPERVISOR: want incus or lxd" >&2
	exit 2
	;;
esac
export "$HV_DIRVAR=$SDIR" "$HV_CONFVAR=$SDIR-client"
NAME=us-criu-slow ADDR=$NET.10
TARBALL= # this tree's image, packed by `lab.sh image` under $DIR/image-lab
OUT=$DIR/drill-$HYPERVISOR.tsv
# Restore-mode instance config (standby/README.md "Restore mode on this
# kernel"): no console (liblxc 5.0 restores no console pty) and no AppArmor
# profile (liblxc would pass --lsm-profile apparmor:unconfined, which criu
# refuses on a kernel without AppArmor); Incus also wants
# migration.stateful=true before it checkpoints a container.
RAW_LXC=$'lxc.console.path = none\nlxc.apparmor.profile ='
INSTANCE_CONFIG=(-c raw.lxc="$RAW_LXC" -c environment.SLOW=1
	-c environment.IPADDR="$ADDR/24" -c environment.GATEWAY="$NET.1")
[ "$HYPERVISOR" = incus ] && INSTANCE_CONFIG+=(-c migration.stateful=true)

# hv runs the hypervisor's client; hvd DIR ... against another daemon's dir.
hv() { timeout 300 "$HV_CLI" "$@"; }
hvd() {
	local d=$1
	shift
	env "$HV_DIRVAR=$d" timeout 300 "$HV_CLI" "$@"
}
# admin SECONDS DIR ARGS... runs `incus admin ARGS` or `lxd ARGS` against
# DIR, for at most SECONDS.
admin() {
	local t=$1 d=$2
	shift 2
	env "$HV_DIRVAR=$d" timeout "$t" "${HV_ADMIN[@]}" "$@"
}

die() {
	echo "criu-drill: FAILED: $*" >&2
	exit 1
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# get prints the slow application's answer, or fails.
get() { curl -fsS -m 1 "http://$ADDR/" 2>/dev/null; }

# wait_get waits (at most 60 s) for the application to answer and prints it.
wait_get() {
	local i body
	for ((i = 0; i < 600; i++)); do
		body=$(get) && { echo "$body"; return 0; }
		sleep 0.1
	done
	return 1
}

# start_daemon DIR starts a scratch daemon in DIR (unless one answers there)
# with the built criu first on its PATH.
start_daemon() {
	local d=$1 bin
	bin=$(bash "$HERE/criu-build.sh" path) || die "no built criu: run \`make criu\` first"
	mkdir -p "$d" "$SDIR-client"
	hvd "$d" query /1.0 >/dev/null 2>&1 && return 0
	(PATH=$(dirname "$bin"):$PATH env "$HV_DIRVAR=$d" setsid nohup "$HV_DAEMON" --group root \
		--logfile "$d/daemon.log" >"$d/daemon.out" 2>&1) &
	echo $! >"$d/daemon.pid"
	admin 90 "$d" waitready --timeout 80 ||
		die "scratch $HYPERVISOR in $d did not start (see $d/daemon.log)"
}

# no_pools DIR succeeds when daemon DIR has no storage pool yet (LXD answers
# [], Incus an empty body).
no_pools() {
	local p
	p=$(hvd "$1" query /1.0/storage-pools | tr -d ' \n') || die "list the storage pools of $1"
	[ -z "$p" ] || [ "$p" = "[]" ]
}

start_scratch() {
	start_daemon "$SDIR"
	if ! no_pools "$SDIR" && ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		# Its bridge went away under it (a cleanup elsewhere): the daemon
		# makes it again when it starts.
		admin 60 "$SDIR" shutdown >/dev/null 2>&1 || kill "$(cat "$SDIR/daemon.pid")" 2>/dev/null || true
		for _ in $(seq 100); do hv query /1.0 >/dev/null 2>&1 || break; sleep 0.2; done
		start_daemon "$SDIR"
	fi
	if no_pools "$SDIR"; then
		ip link del "$BRIDGE" 2>/dev/null || true
		admin 120 "$SDIR" init --preseed <<-EOF || die "preseed the scratch $HYPERVISOR"
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
	if ! hv image info "$fp" >/dev/null 2>&1; then
		hv image alias delete understudy-busybox >/dev/null 2>&1 || true
		hv image import "$TARBALL" --alias understudy-busybox >/dev/null
	fi
}

stop_scratch() {
	local d pid
	for d in "$SDIR"2 "$SDIR"; do
		[ -S "$d/unix.socket" ] || continue
		hvd "$d" delete -f "$NAME" >/dev/null 2>&1 || true
		pid=$(cat "$d/daemon.pid" 2>/dev/null) || continue
		# A failed live move leaves uncancellable operations and a hanging
		# shutdown (LAB.md): then the daemon is killed.
		admin 60 "$d" shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	done
	# What a killed (or LXD 5.0 even after a clean shutdown) leaves: its
	# dnsmasq, mounts, bridge and iptables/nftables rules. Only this drill's names.
	local p
	for p in $(pgrep -x dnsmasq); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$SDIR/networks/" && kill "$p"
	done
	awk -v d="$SDIR" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n 1 umount -l
	ip link del "$BRIDGE" 2>/dev/null || true
	iptables-save 2>/dev/null | awk -v br="$BRIDGE" '/^\*/ {t = substr($1, 2)}
		/^-A / && index($0, "network " br "\"") {sub(/^-A /, ""); print t "\t" $0}' |
		while IFS=$'\t' read -r t rule; do eval "iptables -t $t -D $rule" || true; done
}

# add_remote NAME DIR PORT makes daemon DIR (https 127.0.0.1:PORT) remote
# NAME of the scratch client: LXD by trust password, Incus by trusting the
# client's certificate (Incus has no trust password).
add_remote() {
	local r=$1 d=$2 port=$3 conf=$SDIR-client
	hv remote list --format csv | grep -q "^$r[ ,]" && return 0
	if [ "$HYPERVISOR" = lxd ]; then
		hvd "$d" config set core.trust_password understudy-criu
		hv remote add "$r" "127.0.0.1:$port" --password understudy-criu --accept-certificate >/dev/null
		return
	fi
	if [ ! -s "$conf/client.crt" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
			-subj /CN=understudy-criu-drill -keyout "$conf/client.key" -out "$conf/client.crt" 2>/dev/null
	fi
	hvd "$d" config trust list --format csv | grep -q understudy-criu-drill ||
		hvd "$d" config trust add-certificate "$conf/client.crt" --name understudy-criu-drill
	hv remote add "$r" "https://127.0.0.1:$port" --accept-certificate >/dev/null
}

# start_second starts the live-migration target daemon and makes both
# daemons remotes of the scratch client (s1, s2).
start_second() {
	local d=${SDIR}2
	start_daemon "$d"
	if no_pools "$d"; then
		admin 120 "$d" init --preseed <<-EOF || die "preseed the second scratch $HYPERVISOR"
			config: {core.https_address: "127.0.0.1:$((PORT + 1))"}
			storage_pools: [{name: default, driver: dir}]
			profiles:
			- name: default
			  devices:
			    root: {path: /, pool: default, type: disk}
			    eth0: {name: eth0, nictype: bridged, parent: $BRIDGE, type: nic}
		EOF
	fi
	add_remote s1 "$SDIR" "$PORT"
	add_remote s2 "$d" "$((PORT + 1))"
}

# live_run RUN KIND moves the running application s1 -> s2, live (CRIU) or
# stop-move-start, while polling it, and appends its line to $LIVE.
live_run() {
	local run=$1 kind=$2 log t0 t1 rc=0 poller steps=
	hv delete -f "s1:$NAME" >/dev/null 2>&1 || true
	hv delete -f "s2:$NAME" >/dev/null 2>&1 || true
	hv launch s1:understudy-busybox "s1:$NAME" "${INSTANCE_CONFIG[@]}" >/dev/null
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
		timeout 120 "$HV_CLI" move "s1:$NAME" "s2:$NAME" >/dev/null 2>>"$DIR/live-$HYPERVISOR.err" || rc=$?
	elif [ "$kind" = checkpoint-move ]; then
		# What a live move does, step by step: a stateful stop (CRIU dump)
		# on the source, a copy of the stopped instance with its state, a
		# stateful start (CRIU restore) on the target, then the source's
		# removal. A copy, not a move: the checkpoint names the source
		# container's shmounts directory, which a move deletes before the
		# restore (two daemons on one machine: different INCUS_DIRs).
		local ts=$t0
		hv stop --stateful "s1:$NAME" && steps="stop-stateful=$(($(now_ms) - ts))" && ts=$(now_ms) &&
			timeout 120 "$HV_CLI" copy "s1:$NAME" "s2:$NAME" >/dev/null 2>>"$DIR/live-$HYPERVISOR.err" &&
			steps="$steps copy=$(($(now_ms) - ts))" && ts=$(now_ms) &&
			hv start "s2:$NAME" 2>>"$DIR/live-$HYPERVISOR.err" && steps="$steps start=$(($(now_ms) - ts))" || rc=$?
		hv delete -f "s1:$NAME" >/dev/null 2>&1 || true
		echo "checkpoint-move run $run: $steps" >&2
	else
		hv stop -f "s1:$NAME" &&
			timeout 120 "$HV_CLI" move "s1:$NAME" "s2:$NAME" >/dev/null 2>>"$DIR/live-$HYPERVISOR.err" &&
			hv start "s2:$NAME" || rc=$?
	fi
	t1=$(now_ms)
	wait_get >/dev/null || true
	sleep 1
	kill "$poller"
	wait "$poller" 2>/dev/null || true
	[ "$(hv list s2: "$NAME" -c s --format csv)" = RUNNING ] ||
		die "live run $run ($kind): not running on s2 (move rc $rc; $DIR/live-$HYPERVISOR.err)"
	awk -v run="$run" -v kind="$kind" -v ms=$((t1 - t0)) 'NR > 1 && $1 - pt > max {max = $1 - pt; b = pb; a = $2}
		{pt = $1; pb = $2} END {printf "%d\t%s\t%d\t%d\t%s\t%s\n", run, kind, ms, max, b, a}' "$log" >>"$LIVE"
	rm -f "$log"
}

# LIVE_KINDS are the ways live_run moves the application.
LIVE_KINDS=${LIVE_KINDS:-live checkpoint-move stop-start}

live() {
	local runs=$1 run kind
	LIVE=$DIR/live-$HYPERVISOR.tsv
	start_second
	: >"$LIVE"
	for ((run = 1; run <= runs; run++)); do
		for kind in $LIVE_KINDS; do live_run "$run" "$kind"; done
	done
	hv delete -f "s1:$NAME" >/dev/null 2>&1 || true
	hv delete -f "s2:$NAME" >/dev/null 2>&1 || true
	echo "raw results: $LIVE (run, kind, move ms, longest gap between answers ms, counter before, after)"
	for kind in $LIVE_KINDS; do
		awk -F'\t' -v k="$kind" '$2 == k {print $4}' "$LIVE" | sort -n |
			awk -v k="$kind" '{v[NR] = $1} END {printf "%-10s downtime median %d ms of %d runs\n", k, v[int((NR + 1) / 2)], NR}'
	done
}

# drill RUNS: cold start, checkpoint and restore of the slow application.
drill() {
	local runs=$1 run t0 n kind
	hv delete -f "$NAME" >/dev/null 2>&1 || true
	hv init understudy-busybox "$NAME" "${INSTANCE_CONFIG[@]}" >/dev/null
	: >"$OUT"
	for ((run = 1; run <= runs; run++)); do
		# Cold start: container start, application warm-up, first answer.
		t0=$(now_ms)
		hv start "$NAME"
		n=$(wait_get) || die "run $run: cold start never answered"
		printf '%d\tcold\t%d\t%s\n' "$run" $(($(now_ms) - t0)) "$n" >>"$OUT"
		hv exec "$NAME" -- test -e /dev/console ||
			die "the image has no /dev/console placeholder (busybox-init.sh)"
		n=$(get) # the state to keep: the next answer after a restore is n+1
		t0=$(now_ms)
		hv stop --stateful "$NAME" || die "run $run: stateful stop"
		printf '%d\tcheckpoint\t%d\t%s\n' "$run" $(($(now_ms) - t0)) "$n" >>"$OUT"
		t0=$(now_ms)
		hv start "$NAME" || die "run $run: restore ($HV_CLI info --show-log $NAME)"
		n=$(wait_get) || die "run $run: restored container never answered"
		printf '%d\trestore\t%d\t%s\n' "$run" $(($(now_ms) - t0)) "$n" >>"$OUT"
		hv stop -f "$NAME"
	done
	hv delete -f "$NAME" >/dev/null 2>&1 || true
	echo "raw results: $OUT (run, kind, ms, counter)"
	for kind in cold checkpoint restore; do
		awk -F'\t' -v k="$kind" '$2 == k {print $3}' "$OUT" | sort -n |
			awk -v k="$kind" '{v[NR] = $1} END {printf "%-10s median %d ms of %d runs\n", k, v[int((NR + 1) / 2)], NR}'
	done
	awk -F'\t' '$2 == "restore" && $4 < 2 {bad = 1} END {if (bad) {print "state LOST: a restore answered 1"; exit 1} else print "state kept: every restore answered the counter after the checkpoint"}' "$OUT"
}

main() {
	[ "$(id -u)" = 0 ] || die "run as root"
	case "${1:-}" in
	stop)
		stop_scratch
		return
		;;
	start)
		start_scratch
		echo "$HV_DIRVAR=$SDIR"
		return
		;;
	esac
	start_scratch
	[ "${KEEP:-0}" = 1 ] || trap stop_scratch EXIT
	if [ "${1:-}" = live ]; then
		live "${2:-5}"
		return
	fi
	drill "${1:-5}"
}

main "$@"
