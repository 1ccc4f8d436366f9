#!/usr/bin/env bash
# examples/demo-fleet.sh: what `make demo-fleet` runs. On a Debian/Ubuntu
# machine as root it brings the lab and its fleet up (`lab.sh fleet`: 24
# services on host-a and host-b, one shared standby VM), builds understudy,
# starts the fleet's standby agent on standby-1, one monitor and the proxy on
# examples/lab/fleet.yaml, then drills the loss of host-a (16 services at
# once: `understudy drill --hypervisor host-a --inject host-down`, load
# through DNS and the proxy, --restore) FLEET_DRILLS times (default 1),
# prints each report and writes its JSON and SVG, then the history, and
# stops its daemons, also when a step fails (FLEET_KEEP=1 keeps them running; `demo-fleet.sh stop`,
# also `demo.sh stop`, so `make test` and `make demo-stop`, stops them).
# It holds the lab lock from start to end: the fleet's monitor would fail
# host-a's fleet over whenever another test took host-a's bridge down.
#
# Environment: UNDERSTUDY_LAB_DIR, UNDERSTUDY_BIN, UNDERSTUDY_LAB_LOCKED=1
# (the caller holds the lab lock) as for demo.sh; FLEET_HOST (default
# host-a), FLEET_DRILLS (default 1), FLEET_LOAD (clients per path and
# service, default 1), FLEET_KEEP=1 (leave the daemons running), DEMO_OUT (default $LAB_DIR/demo-fleet: host-N.json,
# host-N.svg, host-N.txt).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/go/bin
LAB_DIR=${UNDERSTUDY_LAB_DIR:-/var/lib/understudy-lab}
DEMO=$LAB_DIR/demo-fleet
OUT=${DEMO_OUT:-$DEMO}
INV=examples/lab/fleet.yaml
HOST=${FLEET_HOST:-host-a}
DRILLS=${FLEET_DRILLS:-1}
LOAD=${FLEET_LOAD:-1}
LOCK=/tmp/understudy-lab.lock
BIN=${UNDERSTUDY_BIN:-$ROOT/bin/understudy}
PKI=$LAB_DIR/pki
DAEMONS=(fleet-agent fleet-monitor fleet-proxy)
MTLS=(--cacert "$PKI/ca.crt" --cert "$PKI/operator.crt" --key "$PKI/operator.key")
AGENT_PORT=9445 MONITOR_PORT=9190 PROXY=127.0.0.1:8090 # fleet.sh's
# shellcheck source=examples/demo-lib.sh
. "$HERE/demo-lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (the lab needs Incus, BIND, iptables and raw ICMP)"
case ${1:-} in
stop)
	stop_all
	exit 0
	;;
"") ;;
*) die "usage: demo-fleet.sh [stop]" ;;
esac
if ! command -v curl >/dev/null; then
	apt-get update -qq && apt-get install -y --no-install-recommends curl >/dev/null
fi
# Whatever way this script ends (a failed step under set -e, a signal), it
# stops the daemons it started, unless asked to keep them.
if [ "${FLEET_KEEP:-0}" != 1 ]; then
	trap stop_all EXIT
fi

if [ -z "${UNDERSTUDY_BIN:-}" ]; then
	step "build bin/understudy"
	go build -o "$BIN" ./cmd/understudy
fi
monitor_ready() { curl -sf "${MTLS[@]}" --max-time 2 "https://127.0.0.1:$MONITOR_PORT/healthz"; }
proxy_ready() { curl -sf --max-time 2 -H 'Host: f01.lab.test' "http://$PROXY/"; }

exec 9>"$LOCK"
take_lock 9
step "lab and fleet up; daemons: stop those of an earlier run, start the fleet's agent, monitor and proxy"
t0=${EPOCHREALTIME/./}
(
	stop_all
	# A fresh start: no monitor state (flap damping), no agent state (its
	# epoch must not be ahead of the new monitor's), no standby containers.
	rm -rf "$LAB_DIR/fleet-monitor/etcd" "$LAB_DIR"/fleet-monitor/etcd-peer-* "$LAB_DIR"/fleet-agent-state/*
	for i in $(seq -w 1 24); do bash examples/lab/lab.sh cli standby-1 delete --force "f$i" 2>/dev/null || true; done
	# Starts the fleet's primaries (fenced by an earlier drill) and points
	# their records back at them.
	bash examples/lab/lab.sh fleet | tail -n 2
	"$BIN" validate -f "$INV"
	for port in $AGENT_PORT $MONITOR_PORT ${PROXY##*:}; do
		if ss -Hltn "sport = :$port" | grep -q .; then
			die "port $port is taken by a process this demo did not start: $(ss -Hltnp "sport = :$port")"
		fi
	done
	mkdir -p "$DEMO" "$OUT"
	start_daemon fleet-agent agent --config "$LAB_DIR/fleet-agent.yaml"
	wait_for "fleet agent https://127.0.0.1:$AGENT_PORT/v1/health" agent_ready $AGENT_PORT
	start_daemon fleet-monitor monitor -f "$INV"
	wait_for "monitor https://127.0.0.1:$MONITOR_PORT/healthz" monitor_ready
	start_daemon fleet-proxy proxy -f "$INV"
	wait_for "proxy http://$PROXY (Host: f01.lab.test)" proxy_ready
)
echo "   ready in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"

rc=0
for n in $(seq "$DRILLS"); do
	base=$OUT/host-$n
	step "host drill $n of $DRILLS: $HOST down, $LOAD client(s) per path and service through DNS and the proxy"
	"$BIN" drill -f "$INV" --hypervisor "$HOST" --inject host-down --load "$LOAD" --via both \
		--json "$base.json" --svg "$base.svg" --restore --wait 300s >"$base.txt" || rc=$?
	cat "$base.txt"
	# The monitor's counters so far (cumulative over the drills): its agent
	# confirmation rounds per hypervisor and its events per kind.
	curl -sf "${MTLS[@]}" --max-time 5 "https://127.0.0.1:$MONITOR_PORT/metrics" |
		grep -E '^understudy_probe_(confirmations|events)_total' >"$base.metrics" || echo "   (the monitor's metrics could not be read)"
	sed 's/^/   /' "$base.metrics" 2>/dev/null || true
	echo "   report $base.txt, JSON $base.json, chart $base.svg, monitor counters $base.metrics (exit $rc)"
done

step "history (understudy drill history -f $INV)"
"$BIN" drill history -f "$INV" | grep -E "host:|regression" | tail -n 8

if [ "${FLEET_KEEP:-0}" = 1 ]; then
	cat <<-EOT

		Everything keeps running (pids and logs in $DEMO):
		  look:      $BIN status -f $INV
		  stop:      bash examples/demo-fleet.sh stop   (make demo-stop and make test do it too)
	EOT
else
	stop_all
fi
exit $rc
