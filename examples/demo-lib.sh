# examples/demo-lib.sh: the functions examples/demo.sh and
# examples/demo-fleet.sh share, sourced by both. They read DEMO (pid files
# and logs), BIN, PKI, LOCK, MTLS and DAEMONS from the script.

step() { printf '\n== %s\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

# stop_daemon NAME: stops a daemon a previous demo started, by its pid file,
# only if that pid still runs the binary the demo started it from (its
# NAME.exe, else $BIN): a pid file that survived a reboot may name another
# process now, and the lab's own daemons (paths under $LAB_DIR) or a
# `flock ... bash -c` of make test have "understudy" in their command line.
stop_daemon() {
	local pidf=$DEMO/$1.pid pid want exe
	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf")
	want=$(cat "$DEMO/$1.exe" 2>/dev/null || readlink -f "$BIN" || true)
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	exe=${exe% (deleted)} # the binary was rebuilt since it started
	if [ -n "$exe" ] && [ "$exe" = "$want" ]; then
		STOPPED+=("$1")
		kill -TERM "$pid" 2>/dev/null || true # it may have ended meanwhile
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
	fi
	rm -f "$pidf" "$DEMO/$1.exe"
}

# stop_all: stops every daemon of a demo and says which ran.
STOPPED=()
stop_all() {
	local d
	STOPPED=()
	for d in "${DAEMONS[@]}"; do stop_daemon "$d"; done
	if [ ${#STOPPED[@]} -gt 0 ]; then
		echo "demo: stopped the daemons of the demo (${STOPPED[*]}); make demo starts them again"
	fi
}

# take_lock FD: waits for the lab lock on FD, unless the caller holds it.
take_lock() {
	[ "${UNDERSTUDY_LAB_LOCKED:-0}" = 1 ] && return 0
	flock -w 900 "$1" || die "waited 15 minutes for $LOCK"
}

# locked CMD...: runs CMD holding the lab lock, unless the caller holds it.
locked() {
	if [ "${UNDERSTUDY_LAB_LOCKED:-0}" = 1 ]; then
		"$@"
	else
		flock -w 900 "$LOCK" "$@"
	fi
}

# close_fds_above_2: closes every descriptor of this shell above 2 (as
# lab.sh's detached() does): a daemon must not inherit the lab lock (fd 9
# here, or the descriptor flock(1) passes down to `flock LOCK bash -c ...`)
# nor a caller's pipe, or it keeps the lock, and the pipe's reader waiting,
# as long as it runs. Call it in the subshell that execs the daemon.
close_fds_above_2() {
	local fd
	for fd in "/proc/$BASHPID/fd"/*; do
		fd=${fd##*/}
		if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
	done
}

# start_daemon NAME ARGS...: runs the binary in the background, detached,
# with its log and pid under $DEMO and no inherited descriptor above 2.
start_daemon() {
	local name=$1
	shift
	(
		close_fds_above_2
		exec setsid nohup "$BIN" "$@" >"$DEMO/$name.log" 2>&1 </dev/null
	) &
	echo $! >"$DEMO/$name.pid"
	readlink -f "$BIN" >"$DEMO/$name.exe"
}

# wait_for WHAT CMD...: retries CMD for up to 60 s.
wait_for() {
	local what=$1
	shift
	for _ in $(seq 120); do
		if "$@" >/dev/null 2>&1; then
			echo "   $what: ok"
			return 0
		fi
		sleep 0.5
	done
	die "$what did not come up; see the logs in $DEMO"
}

# agent_ready PORT: the agent on 127.0.0.1:PORT says it is ready.
agent_ready() {
	curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/monitor.crt" --key "$PKI/monitor.key" \
		"https://127.0.0.1:$1/v1/health" | grep -q '"ready":true'
}
monitor_ready() { curl -sf "${MTLS[@]}" --max-time 2 "https://127.0.0.1:$1/healthz"; }

