#!/usr/bin/env bash
# examples/demo.sh: what `make demo` runs. On a Debian/Ubuntu machine as root
# it brings the lab up, builds understudy, starts the standby agent, three
# monitors (one leads, on an etcd cluster they run themselves with --peers)
# and the proxy in the background, runs one drill on the warm service (web)
# and one on the cold service (api) with load through DNS and through the
# proxy, prints both reports, writes their JSON and SVG charts, then kills
# the leading monitor with SIGKILL, shows another one take over, runs one
# more drill under the new leader, migrates web to spare-1 and fails it
# back with a client counting errors through the proxy, and leaves
# everything running. The
# monitors' API is mutual TLS (monitor.api-tls, the lab PKI's monitor-api and
# operator certificates).
#
# Idempotent: a second run stops the daemons of the first (by their pid
# files) and starts again from services on their primaries.
#
#   bash examples/demo.sh                 # or: make demo
#   DEMO_INJECT=vm-freeze bash examples/demo.sh
#   bash examples/demo.sh stop            # or: make demo-stop; make test does it
#
# `stop` stops every daemon a demo started (by their pid files) and says
# which: the lab tests cannot run beside the demo's monitors, which would
# fail web and api over when a test takes host-a's bridge down.
#
# Environment: UNDERSTUDY_LAB_DIR (default /var/lib/understudy-lab),
# UNDERSTUDY_BIN (a prebuilt binary instead of building bin/understudy),
# DEMO_INJECT (default vm-stop), DEMO_LOAD (default 10), DEMO_OUT (default
# $LAB_DIR/demo), DEMO_LAB_UP=0 (skip `lab.sh up` when the lab is known up),
# UNDERSTUDY_LAB_LOCKED=1 (the caller already holds the lab lock, e.g.
# `flock /tmp/understudy-lab.lock env UNDERSTUDY_LAB_LOCKED=1 bash
# examples/demo.sh`). Otherwise lab-changing steps hold
# /tmp/understudy-lab.lock (the lock the lab tests take) only while they run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/go/bin
LAB_DIR=${UNDERSTUDY_LAB_DIR:-/var/lib/understudy-lab}
DEMO=$LAB_DIR/demo
OUT=${DEMO_OUT:-$DEMO}
INV=examples/lab/lab.yaml
INJECT=${DEMO_INJECT:-vm-stop}
LOAD=${DEMO_LOAD:-10}
LOCK=/tmp/understudy-lab.lock
BIN=${UNDERSTUDY_BIN:-$ROOT/bin/understudy}
PKI=$LAB_DIR/pki
MONITORS=(mon-a mon-b mon-c)
DAEMONS=(agent spare-agent "${MONITORS[@]}" monitor proxy) # monitor: the single one of older demos
# Each monitor's API port and etcd peer port; mon-a's API is the inventory's
# monitor.listen, which the drill and `understudy status -f` ask.
declare -A API=([mon-a]=9180 [mon-b]=9181 [mon-c]=9182)
declare -A PEER=([mon-a]=23801 [mon-b]=23802 [mon-c]=23803)
PEERS=mon-a=https://127.0.0.1:23801,mon-b=https://127.0.0.1:23802,mon-c=https://127.0.0.1:23803
MONITOR_URLS=https://127.0.0.1:9180,https://127.0.0.1:9181,https://127.0.0.1:9182
# The monitors' API is mutual TLS (monitor.api-tls in lab.yaml): curl and
# `status --url` present the operator's certificate of the lab CA; commands
# given -f take it from monitor.api-client-tls themselves.
MTLS=(--cacert "$PKI/ca.crt" --cert "$PKI/operator.crt" --key "$PKI/operator.key")
TLS_FLAGS=(--tls-ca "$PKI/ca.crt" --tls-cert "$PKI/operator.crt" --tls-key "$PKI/operator.key")
# shellcheck source=examples/demo-lib.sh
. "$HERE/demo-lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (the lab needs LXD, BIND, iptables and raw ICMP)"

case ${1:-} in
stop)
	stop_all
	# The fleet's monitor would fail host-a's fleet over too.
	bash "$HERE/demo-fleet.sh" stop
	exit 0
	;;
"") ;;
*) die "usage: demo.sh [stop]" ;;
esac
if ! command -v curl >/dev/null; then
	apt-get update -qq && apt-get install -y --no-install-recommends curl >/dev/null
fi

if [ "${DEMO_LAB_UP:-1}" != 0 ]; then
	step "lab up"
	bash examples/lab/lab.sh up
fi

if [ -z "${UNDERSTUDY_BIN:-}" ]; then
	step "build bin/understudy"
	command -v go >/dev/null || die "go is not installed (expected in PATH or /usr/local/go/bin)"
	go build -o "$BIN" ./cmd/understudy
fi
"$BIN" drill -h >/dev/null 2>&1 || die "$BIN has no drill command"
"$BIN" validate -f "$INV"
mkdir -p "$DEMO" "$OUT"

# start_monitor NAME: one of the three monitors, with its etcd member.
start_monitor() {
	start_daemon "$1" monitor -f "$INV" --name "$1" --listen "127.0.0.1:${API[$1]}" --peers "$PEERS"
}

# leader: prints the monitor whose /healthz says it leads; fails if none.
leader() {
	local m
	for m in "${MONITORS[@]}"; do
		if curl -sf "${MTLS[@]}" --max-time 1 "https://127.0.0.1:${API[$m]}/healthz" | grep -q '"leader":true'; then
			echo "$m"
			return 0
		fi
	done
	return 1
}
proxy_ready() { curl -sf --max-time 2 -H 'Host: web.lab.test' http://127.0.0.1:8080/; }

# reset_service NAME: asks the monitor to put a service back on its primary
# (after a drill of an earlier demo without --restore); 409 means it is there.
reset_service() {
	local code
	code=$(curl -s "${MTLS[@]}" -o /dev/null -w '%{http_code}' --max-time 30 -X POST -H 'Content-Type: application/json' -d '{"reason": "make demo"}' \
		"https://127.0.0.1:9180/v1/services/$1/reset" || true)
	case $code in
	202) echo "   $1 was not on its primary: reset" ;;
	409) ;;
	*) echo "   reset of $1 answered $code; the drill's preflight will say what is wrong" ;;
	esac
}

step "daemons: stop those of an earlier demo, put web and api back on their primaries, start agent, monitor and proxy"
(
	take_lock 9
	stop_all
	# A fresh start for the demo's services: the lab's flap damping (3 moves
	# an hour) would refuse the failovers of a third demo within the hour, so
	# the monitor's state goes (the drill history drills.jsonl stays), and
	# with it the agent's state (its epoch must not be ahead of the new
	# monitor's) and the standby containers of web and api it prepared.
	rm -rf "$LAB_DIR/monitor/etcd" "$LAB_DIR"/monitor/etcd-peer-*
	agent_state=$(sed -n 's/^state-dir:[[:space:]]*//p' "$LAB_DIR/agent.yaml")
	[ -n "$agent_state" ] && rm -rf "${agent_state:?}"/*
	bash examples/lab/lab.sh cli standby-1 delete --force web api 2>/dev/null || true
	for port in 9443 9444 9180 9181 9182 23801 23802 23803 8080; do
		if ss -Hltn "sport = :$port" | grep -q .; then
			die "port $port is taken by a process this demo did not start: $(ss -Hltnp "sport = :$port")"
		fi
	done
	# lab.sh cli: the client of whichever hypervisor the lab runs (incus or lxc).
	for vm in web-vm api-vm; do
		bash examples/lab/lab.sh cli host-a unfreeze "$vm" 2>/dev/null || true # frozen or stopped by an earlier drill
		bash examples/lab/lab.sh cli host-a start "$vm" 2>/dev/null || true
		bash examples/lab/lab.sh cli host-a exec "$vm" -- /sbin/understudy-service start 2>/dev/null || true
	done
	# Only web and api: a whole-zone reset would drop the records of tests.
	"$BIN" dns set -f "$INV" web.lab.test. 10.200.0.11 >/dev/null
	"$BIN" dns set -f "$INV" api.lab.test. 10.200.0.12 >/dev/null
	start_daemon agent agent --config "$LAB_DIR/agent.yaml"
	wait_for "standby agent https://127.0.0.1:9443/v1/health" agent_ready 9443
	start_daemon spare-agent agent --config "$LAB_DIR/spare-agent.yaml"
	wait_for "spare-1's agent (its steal and load) https://127.0.0.1:9444/v1/health" agent_ready 9444
	# Together: each member waits for a majority of the three.
	for m in "${MONITORS[@]}"; do start_monitor "$m"; done
	for m in "${MONITORS[@]}"; do
		wait_for "monitor $m https://127.0.0.1:${API[$m]}/healthz" monitor_ready "${API[$m]}"
	done
	wait_for "a leading monitor" leader
	start_daemon proxy proxy -f "$INV" --monitor "$MONITOR_URLS"
	wait_for "proxy http://127.0.0.1:8080 (Host: web.lab.test)" proxy_ready
	reset_service web
	reset_service api
) 9>"$LOCK"

# drill NAME: one drill with load through DNS and the proxy, restored after.
drill() {
	local name=$1 base=$OUT/$1-$INJECT rc=0
	step "drill $name: $INJECT, $LOAD clients through DNS and through the proxy"
	locked "$BIN" drill -f "$INV" --service "$name" --inject "$INJECT" --load "$LOAD" --via both \
		--json "$base.json" --svg "$base.svg" --restore --wait 60s >"$base.txt" || rc=$?
	cat "$base.txt"
	echo "   report $base.txt, JSON $base.json, chart $base.svg (exit $rc)"
	return 0
}

drill web
drill api

step "monitors: kill the leader with SIGKILL; another one takes over"
old=$(leader)
for m in "${MONITORS[@]}"; do [ "$m" != "$old" ] && survivor=$m && break; done
"$BIN" status --url "https://127.0.0.1:${API[$survivor]}" "${TLS_FLAGS[@]}" | sed -n '1,4p'
t0=${EPOCHREALTIME/./}
kill -KILL "$(cat "$DEMO/$old.pid")"
for _ in $(seq 200); do
	new=$(leader || true)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.05
done
[ -n "$new" ] && [ "$new" != "$old" ] || die "no monitor took over from $old within 10 s"
echo "   $old led; $new leads $(((${EPOCHREALTIME/./} - t0) / 1000)) ms after the SIGKILL"
"$BIN" status --url "https://127.0.0.1:${API[$survivor]}" "${TLS_FLAGS[@]}" | sed -n '1,3p'

step "drill web again, under the new leader (asked through ${survivor})"
base=$OUT/web-$INJECT-after-takeover
rc=0
locked "$BIN" drill -f "$INV" --service web --inject "$INJECT" --load "$LOAD" --via both \
	--monitor "https://127.0.0.1:${API[$survivor]}" --json "$base.json" --svg "$base.svg" --restore --wait 60s >"$base.txt" || rc=$?
cat "$base.txt"
echo "   report $base.txt, JSON $base.json, chart $base.svg (exit $rc)"

step "restart $old: it rejoins as a follower"
start_monitor "$old"
wait_for "monitor $old https://127.0.0.1:${API[$old]}/healthz" monitor_ready "${API[$old]}"
"$BIN" status --url "https://127.0.0.1:${API[$old]}" "${TLS_FLAGS[@]}" | sed -n '1,4p'

step "web: fail over, migrate to spare-1, fail back; a client GETs web through the proxy every 20 ms"
# proxy_client: GETs web through the proxy until $DEMO/stop-client exists,
# then writes how many requests were answered and how many failed.
proxy_client() {
	local ok=0 bad=0
	while [ ! -e "$DEMO/stop-client" ]; do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Host: web.lab.test' http://127.0.0.1:8080/)" = 200 ]; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
		fi
		sleep 0.02
	done
	echo "$ok $bad" >"$DEMO/client-counts"
}
# web_is STATE: the monitor reports web in STATE.
web_is() { [ "$("$BIN" status -f "$INV" | awk '$1 == "web" { print $2 }')" = "$1" ]; }
(
	take_lock 9
	curl -s "${MTLS[@]}" -o /dev/null --max-time 30 -X POST -H 'Content-Type: application/json' -d '{"reason": "make demo: a migration"}' \
		"https://127.0.0.1:${API[mon-a]}/v1/services/web/failover"
	wait_for "web on the standby" web_is on-standby
	rm -f "$DEMO/stop-client" "$DEMO/client-counts"
	proxy_client &
	client=$!
	"$BIN" migrate -f "$INV" --service web --dry-run
	"$BIN" migrate -f "$INV" --service web --reason "make demo"
	# The failover fenced web-vm: start it again, then fail back to it.
	bash examples/lab/lab.sh cli host-a start web-vm 2>/dev/null || true
	bash examples/lab/lab.sh cli host-a exec web-vm -- /sbin/understudy-service start 2>/dev/null || true
	wait_for "web-vm answers again" curl -sf --max-time 1 http://10.200.0.11/
	"$BIN" failback -f "$INV" --service web --reason "make demo"
	touch "$DEMO/stop-client"
	wait "$client"
	read -r ok bad <"$DEMO/client-counts"
	echo "   through the proxy during the failover, the migration and the failback: $ok answered, $bad failed"
) 9>"$LOCK"

step "summary (every drill so far: understudy drill history -f $INV)"
"$BIN" drill history -f "$INV" | tail -n 12

cat <<EOT

Everything keeps running (pids and logs in $DEMO):
  look:      $BIN status -f $INV
             $BIN drill -f $INV --service web --inject vm-freeze --via both --restore
  stop the daemons:  make demo-stop   (make test does it too)
  tear down the lab: make lab-down   (stop the daemons first)
EOT
