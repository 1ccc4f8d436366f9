#!/usr/bin/env bash
# bench/run.sh: every figure the READMEs publish, measured again.
#
#   make bench                       # all groups, then bench/haproxy.sh
#   bash bench/run.sh [GROUP...]     # some groups: dns dnsservers standby lxd e2e drill proxy icmp probe probescale ha recover lab hypervisors proxyload sync syncfleet loadmove faults fleet
#                                    seeds-restore seeds-warm seeds-migration seeds-relocation seeds-rtt (make bench-seeds)
#
# Each group writes, under bench/results/:
#   GROUP.test.json  the raw `go test -json` stream (benchmark groups),
#   GROUP.json       every value, with the date, nproc, Go version, load
#                    average and the exact command,
#   GROUP.md         median (min–max, n) of each value; the READMEs cite it.
# The drill group also keeps its reports under bench/results/drill/.
#
# Groups that use the lab (dns dnsservers standby lxd e2e loadmove drill proxy proxyload lab sync syncfleet faults fleet seeds-*) take the
# lab lock (/tmp/understudy-lab.lock) one at a time, each for a few
# minutes; test binaries are built before the lock is taken. On a busy
# machine, take the lock once for all of them instead:
#   export BENCH_BIN=/tmp/bench-bin; bash bench/run.sh build   # the test binaries, outside the lock
#   flock /tmp/understudy-lab.lock env BENCH_LOCKED=1 bash bench/run.sh dns standby lxd e2e drill proxy lab
# Needs root and
# `make lab-up` for those. BENCH_COUNT scales the repeats (default 1: the
# counts below; 2 doubles them). BENCH_QUICK=1 runs every benchmark once
# (-benchtime 1x -count 1) and DRILL_RUN narrows the drills (a -run regexp),
# to check this script; BENCH_OUT writes elsewhere than bench/results.
# A test binary that fails is reported; the script goes on, writes every
# group's results (the failed runs' figures missing) and exits 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
MOD=github.com/understudy/understudy
OUT=${BENCH_OUT:-bench/results}
LOCK=(flock /tmp/understudy-lab.lock)
if [ "${BENCH_LOCKED:-0}" = 1 ]; then
	LOCK=() # the caller holds the lab lock
fi
scale=${BENCH_COUNT:-1}
if [ -n "${BENCH_BIN:-}" ]; then
	tmp=$BENCH_BIN # kept: built once, reused
	mkdir -p "$tmp"
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
fi
mkdir -p "$OUT"
OUTABS=$(cd "$OUT" && pwd)

# bench NAME LAB PKG BENCH-REGEXP BENCHTIME COUNT [ENV...]: one benchmark
# invocation of PKG appended to NAME's raw stream. LAB=lab runs it under the
# lab lock with UNDERSTUDY_REQUIRE_LAB=1.
bench() {
	local name=$1 lab=$2 pkg=$3 re=$4 bt=$5 count=$(($6 * scale))
	shift 6
	if [ "${BENCH_QUICK:-0}" = 1 ]; then
		bt=1x count=1
	fi
	local bin
	bin=$(build "$pkg")
	local args=(-test.run '^$' -test.bench "$re" -test.benchtime "$bt" -test.count "$count" -test.timeout 30m -test.v=test2json)
	cmds+=("go test -run '^\$' -bench '$re' -benchtime $bt -count $count ./$pkg")
	echo "== $name: ./$pkg -bench '$re' -benchtime $bt -count $count" >&2
	local run=(env "$@")
	if [ "$lab" = lab ]; then
		run=("${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 "$@")
	fi
	(cd "$pkg" && "${run[@]}" "$bin" "${args[@]}" 2>&1) | $GO tool test2json -t -p "$MOD/$pkg" >>"$OUT/$name.test.json" ||
		failed "$name" "./$pkg -bench '$re'"
}

# failed GROUP WHAT: notes that a test binary of GROUP failed; the script
# still writes GROUP's results (without what failed) and exits 1 at the end.
FAILED=()
failed() {
	echo "bench/run.sh: $1: $2 FAILED (its results lack it; see $OUT/$1.test.json)" >&2
	FAILED+=("$1: $2")
}

# build PKG: its test binary (once per $tmp); prints its path.
build() {
	local bin=$tmp/${1//\//_}.test
	[ -x "$bin" ] || $GO test -c -o "$bin" "./$1" >&2
	echo "$bin"
}

group_build() {
	local p
	for p in dnsupdate standby lxd e2e drill proxy internal/icmp ha recover recover/store recover/embedded monitor/contentsync; do
		build "$p" >/dev/null
	done
}

# begin NAME / end NAME: a group's raw stream, then its summary.
begin() {
	cmds=()
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	: >"$OUT/$1.test.json"
}
end() {
	local name=$1
	shift
	local joined
	joined=$(printf '%s; ' "${cmds[@]}")
	$GO run ./bench/summarize -name "$name" -cmd "bash bench/run.sh $name (${joined%; })" \
		-started "$started" -load "$load" -out "$OUT" "$@"
}

group_dns() {
	begin dns
	bench dns lab dnsupdate 'BIND' 200x 5
	end dns -gotest "$OUT/dns.test.json"
}

# dnsservers: Replace against BIND, Knot DNS and PowerDNS in one run, and
# what the servers cost while idle (bench/dns-idle.sh, under the lab lock).
group_dnsservers() {
	begin dnsservers
	bench dnsservers lab dnsupdate 'ReplaceServers' 200x 3
	local windows=$((3 * scale))
	[ "${BENCH_QUICK:-0}" = 1 ] && windows=1
	echo "== dnsservers: bash bench/dns-idle.sh 20 $windows" >&2
	"${LOCK[@]}" bash bench/dns-idle.sh 20 "$windows" | $GO tool test2json -p "$MOD/examples/lab" >>"$OUT/dnsservers.test.json" ||
		failed dnsservers "bench/dns-idle.sh"
	cmds+=("bash bench/dns-idle.sh 20 $windows")
	end dnsservers -gotest "$OUT/dnsservers.test.json"
}

group_standby() {
	begin standby
	bench standby lab standby 'ActivateCold|ActivateWarm' 10x 3
	end standby -gotest "$OUT/standby.test.json"
}

group_lxd() {
	begin lxd
	bench lxd lab lxd '.' 5x 2
	end lxd -gotest "$OUT/lxd.test.json"
}

group_e2e() {
	begin e2e
	bench e2e lab e2e 'Failover' 8x 1
	end e2e -gotest "$OUT/e2e.test.json"
}

# loadmove: relocation under load in the lab (e2e BenchmarkLoadMove: two
# burning services on the standby, the load trigger moves the heavier one to
# spare-1): threshold to move end, the standby's CPU before and after, the
# copy, the slowest answer and longest gap through the proxy.
group_loadmove() {
	begin loadmove
	bench loadmove lab e2e 'LoadMove' 1x 1
	end loadmove -gotest "$OUT/loadmove.test.json"
}

group_proxy() {
	begin proxy
	bench proxy lab proxy 'Probe' 200x 3
	bench proxy lab proxy 'Interleaved' 30000x 3
	end proxy -gotest "$OUT/proxy.test.json"
}

# proxyload: the proxy under wrk saturation, before and after the adaptive
# probe (bench/proxy-probe.sh load; each revision under the lab lock).
group_proxyload() {
	local locked=0
	[ ${#LOCK[@]} = 0 ] && locked=1 # the caller holds the lab lock
	BENCH_LOCKED=$locked UNDERSTUDY_BENCH_RESULTS=$OUTABS bash bench/proxy-probe.sh load ||
		failed proxyload "bench/proxy-probe.sh load"
}

# sync: the content sync (monitor/contentsync): one sync of 1 MB and
# 100 MB with 1 % changed (SYNC_BENCH_1G=1 adds 1 GB) by method incus and
# by method rsync side by side, the first full copy, the bytes moved and
# the daemons', the guest's and the monitor's CPU; the same sizes by
# whole-instance sync (refresh into the staging copy and swap, a cold
# standby). One lock per line, each well under the lock's few minutes.
# The lab fleet's 24 services are group syncfleet.
group_sync() {
	begin sync
	bench sync lab monitor/contentsync 'SyncLab/size=1MB' 5x 3
	bench sync lab monitor/contentsync 'SyncLab/size=100MB' 5x 3
	if [ "${SYNC_BENCH_1G:-0}" = 1 ]; then
		bench sync lab monitor/contentsync 'SyncLab/size=1GB/changed=1%/method=incus' 5x 3 SYNC_BENCH_1G=1
		bench sync lab monitor/contentsync 'SyncLab/size=1GB/changed=1%/method=rsync' 5x 3 SYNC_BENCH_1G=1
	fi
	bench sync lab monitor/contentsync 'SyncWholeInstanceLab' 5x 3 SYNC_BENCH_1G="${SYNC_BENCH_1G:-0}"
	end sync -gotest "$OUT/sync.test.json"
}

# syncfleet: the content sync of a fleet laid out as the lab's (24
# services, primaries 16 on host-a and 8 on host-b, standby containers on
# standby-1, a third warm; monitor/contentsync bench_fleet*_test.go), one
# lab lock per line, each under ~7 minutes with the fleet's 48 containers
# made and removed: one round over all 24 at max-parallel 1 and 2
# (SYNC_FLEET_ROUNDS rounds, default 10); the standby daemon's CPU over a
# window (SYNC_FLEET_WINDOW, default 3m) idle and with the schedule
# syncing all 24 at every: 1m, once per lock, SYNC_FLEET_CPU_RUNS times
# (default 3), the idle window first and then second in turn; the schedule at each every of SYNC_FLEET_EVERY (default
# 30s,10s,5s,2s,1s) for 3.5 periods (at least 20 s): the copies' oldest age
# against every + one round, and the CPU. SYNC_FLEET_PARTS narrows it
# (round cpu every).
group_syncfleet() {
	begin syncfleet
	local window=${SYNC_FLEET_WINDOW:-3m} runs=${SYNC_FLEET_CPU_RUNS:-3} everies=${SYNC_FLEET_EVERY:-30s,10s,5s,2s,1s} part i
	if [ "${BENCH_QUICK:-0}" = 1 ]; then
		window=20s runs=1 everies=5s,1s
	fi
	for part in ${SYNC_FLEET_PARTS:-round cpu every}; do
		case $part in
		round) bench syncfleet lab monitor/contentsync '^BenchmarkSyncFleetLab$' 1x 1 SYNC_FLEET_ROUNDS="${SYNC_FLEET_ROUNDS:-10}" ;;
		cpu)
			for i in $(seq 1 "$runs"); do # idle window first, then the syncing one first, in turn
				bench syncfleet lab monitor/contentsync '^BenchmarkSyncFleetCPULab$' 1x 1 SYNC_FLEET_WINDOW="$window" \
					SYNC_FLEET_CPU_FIRST="$([ $((i % 2)) = 1 ] && echo idle || echo sync)"
			done
			;;
		every) bench syncfleet lab monitor/contentsync '^BenchmarkSyncFleetEveryLab$' 1x 1 SYNC_FLEET_EVERY="$everies" ;;
		*) failed syncfleet "no part $part (have: round cpu every)" ;;
		esac
	done
	end syncfleet -gotest "$OUT/syncfleet.test.json"
}

group_icmp() {
	begin icmp
	bench icmp nolab internal/icmp '.' 2000x 3
	end icmp -gotest "$OUT/icmp.test.json"
}

# probe: the tcp probe's close with a reset against the ordinary close
# (monitor/probe BenchmarkProbeTCP), side by side.
group_probe() {
	begin probe
	bench probe nolab monitor/probe 'ProbeTCP' 20000x 5
	end probe -gotest "$OUT/probe.test.json"
}

# probescale: the engine at 1,000-10,000 targets (bench/probescale.sh,
# root; it writes probescale.json and probescale.md itself).
group_probescale() {
	PROBESCALE_OUT="$OUT" bash bench/probescale.sh
}

group_ha() {
	begin ha
	bench ha nolab ha 'Takeover' 5x 1
	end ha -gotest "$OUT/ha.test.json"
}

group_recover() {
	begin recover
	bench recover nolab recover '.' 1s 3
	bench recover nolab recover/store '.' 1s 3
	bench recover nolab recover/embedded '.' 1s 3
	end recover -gotest "$OUT/recover.test.json"
}

# drill: TestIntegrationDrill (every inject kind, load 5 through DNS and
# the proxy, the standby agent, monitor and proxy in-process), DRILL_ROUNDS
# times (default 1), keeping every report.
group_drill() {
	begin drill
	local rounds=$((${DRILL_ROUNDS:-1} * scale)) bin
	bin=$(build drill)
	rm -rf "$OUT/drill"
	for r in $(seq 1 "$rounds"); do
		mkdir -p "$OUT/drill/round$r"
		echo "== drill: round $r of $rounds" >&2
		(cd drill && "${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 DRILL_OUT="$OUTABS/drill/round$r" \
			"$bin" -test.run "${DRILL_RUN:-^TestIntegrationDrill\$}" -test.count 1 -test.timeout 20m -test.v=test2json 2>&1) |
			$GO tool test2json -t -p "$MOD/drill" >>"$OUT/drill.test.json" || failed drill "round $r"
		rm -f "$OUT"/drill/round"$r"/*.svg # the charts are large; the JSON has the numbers
	done
	cmds=("DRILL_OUT=DIR go test -count=1 -run '${DRILL_RUN:-^TestIntegrationDrill\$}' ./drill, $rounds round(s)")
	end drill -gotest "$OUT/drill.test.json" -drills "$OUT/drill"
}

# faults: the drill table of issue 18 (BenchmarkFaultTable): the 5
# inject kinds against a warm and a cold service, via the proxy and the
# monitor (--via both) and via the monitor alone (--via dns; interval 250ms,
# fails 3, the default fast-interval of 125ms), with fence-method freeze (after) and stop (before: the fence of
# main before the freeze), FAULTS_RUNS runs each (default 3). One lab lock
# hold per fence method, path and mode (5 kinds x FAULTS_RUNS drills, a few
# minutes); FAULTS_METHODS, FAULTS_VIAS and FAULTS_MODES narrow it
# (FAULTS_KEEP=1 keeps the reports of an earlier, narrower run;
# FAULTS_FIRST=N numbers the runs from N, to split a long part). The
# reports stay under bench/results/faults/fence-METHOD/VIA/MODE/runN/.
group_faults() {
	local prev=""
	if [ "${FAULTS_KEEP:-0}" = 1 ] && [ -s "$OUT/faults.test.json" ]; then
		prev=$(mktemp) # the raw stream of the earlier runs, kept too
		cp "$OUT/faults.test.json" "$prev"
	fi
	begin faults
	if [ -n "$prev" ]; then
		cat "$prev" >>"$OUT/faults.test.json"
		rm -f "$prev"
	fi
	local runs=$((${FAULTS_RUNS:-3} * scale)) bin method via mode
	[ "${BENCH_QUICK:-0}" = 1 ] && runs=1
	bin=$(build drill)
	[ "${FAULTS_KEEP:-0}" = 1 ] || rm -rf "$OUT/faults" # FAULTS_KEEP=1 adds to the reports there
	for via in ${FAULTS_VIAS:-both dns}; do
		for method in ${FAULTS_METHODS:-freeze stop}; do
			for mode in ${FAULTS_MODES:-warm cold}; do
				echo "== faults: fence-method $method, via $via, $mode, $runs run(s)" >&2
				(cd drill && "${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 FAULTS_OUT="$OUTABS/faults" FAULTS_RUNS="$runs" \
					FAULTS_FIRST="${FAULTS_FIRST:-1}" FAULTS_METHOD="$method" FAULTS_VIA="$via" FAULTS_MODE="$mode" \
					"$bin" -test.run '^$' -test.bench '^BenchmarkFaultTable$' -test.benchtime 1x -test.count 1 -test.timeout 30m -test.v=test2json 2>&1) |
					$GO tool test2json -t -p "$MOD/drill" >>"$OUT/faults.test.json" || failed faults "$method $via $mode"
			done
		done
	done
	cmds=("FAULTS_OUT=DIR FAULTS_METHOD={${FAULTS_METHODS:-freeze stop}} FAULTS_VIA={${FAULTS_VIAS:-both dns}} FAULTS_MODE={${FAULTS_MODES:-warm cold}} FAULTS_RUNS=$runs FAULTS_FIRST=${FAULTS_FIRST:-1} go test -count=1 -run '^\$' -bench '^BenchmarkFaultTable\$' -benchtime 1x ./drill")
	end faults -gotest "$OUT/faults.test.json" -drills "$OUT/faults"
}

# lab: a second `lab.sh up` (it changes nothing), 5 times. Bringing the lab
# up from nothing or after kill -9 would take it from every other user, so
# this script does not measure those.
group_lab() {
	begin lab
	local t0 t1
	for _ in 1 2 3 4 5; do
		t0=$(date +%s%N)
		"${LOCK[@]}" bash examples/lab/lab.sh up >/dev/null
		t1=$(date +%s%N)
		printf '{"Action":"output","Package":"%s/examples/lab","Output":"BenchmarkLabUpAgain-1 \\t 1\\t %d ns/op\\n"}\n' "$MOD" $((t1 - t0)) >>"$OUT/lab.test.json"
	done
	# The fleet (lab.sh fleet): once with its 24 primaries deleted first
	# (they are the lab's own, no test uses them), then again when up.
	"${LOCK[@]}" bash -c 'for i in $(seq -w 1 24); do bash examples/lab/lab.sh cli host-a delete --force "f$i-vm" 2>/dev/null || bash examples/lab/lab.sh cli host-b delete --force "f$i-vm" 2>/dev/null || true; done'
	for name in LabFleetFromNoFleet LabFleetAgain LabFleetAgain LabFleetAgain; do
		t0=$(date +%s%N)
		"${LOCK[@]}" bash examples/lab/lab.sh fleet >/dev/null
		t1=$(date +%s%N)
		printf '{"Action":"output","Package":"%s/examples/lab","Output":"Benchmark%s-1 \\t 1\\t %d ns/op\\n"}\n' "$MOD" "$name" $((t1 - t0)) >>"$OUT/lab.test.json"
	done
	cmds=("time bash examples/lab/lab.sh up (lab already up), 5 times" "time bash examples/lab/lab.sh fleet, once after deleting the fleet's 24 primaries, then 3 times when up")
	end lab -gotest "$OUT/lab.test.json"
}

# fleet: the loss of host-a on the fleet (lab.sh fleet: 16 of its 24
# services at once on one shared standby VM), FLEET_RUNS times (default 5):
# examples/demo-fleet.sh starts the fleet's agent, monitor and proxy and runs
# the host drills one after the other (--restore between them), under the
# lab lock for the whole run. Keeps every host drill's report and JSON under
# bench/results/fleet/; the summary has, per run, the time until every
# service was served again, its p50 and p95 over the services, the outage
# errors per path, each service's recovery and each step's median.
group_fleet() {
	begin fleet
	local runs=$((${FLEET_RUNS:-5} * scale))
	[ "${BENCH_QUICK:-0}" = 1 ] && runs=1
	rm -rf "$OUT/fleet"
	mkdir -p "$OUT/fleet"
	echo "== fleet: $runs host drill(s) of host-a" >&2
	"${LOCK[@]}" env UNDERSTUDY_LAB_LOCKED=1 FLEET_DRILLS="$runs" DEMO_OUT="$OUTABS/fleet" \
		bash examples/demo-fleet.sh >"$OUT/fleet/demo-fleet.txt" 2>&1 || failed fleet "examples/demo-fleet.sh"
	rm -f "$OUT"/fleet/*.svg # large; the JSON has the numbers
	cmds=("FLEET_DRILLS=$runs DEMO_OUT=bench/results/fleet bash examples/demo-fleet.sh")
	end fleet -hostdrills "$OUT/fleet"
}

# group_hypervisors: Incus and LXD 5.0 side by side (bench/hypervisors.sh:
# its own lock per hypervisor, its own results hypervisors.{tsv,md}; the lab
# ends on Incus).
group_hypervisors() {
	local locked=0
	[ ${#LOCK[@]} = 0 ] && locked=1 # the caller holds the lab lock
	BENCH_LOCKED=$locked BENCH_OUT=$OUT bash bench/hypervisors.sh || failed hypervisors "bench/hypervisors.sh"
}

# group_seeds_script NAME: the seeds experiments of issue 20 (make
# bench-seeds), one script each, bench/NAME.sh, which takes the lab lock
# itself and writes bench/results/NAME.{json,md}.
group_seeds_script() {
	if [ ! -f "bench/$1.sh" ]; then
		failed "$1" "bench/$1.sh (not written yet)"
		return 0
	fi
	BENCH_OUT=$OUT bash "bench/$1.sh" || failed "$1" "bench/$1.sh"
}
group_seeds-restore() { group_seeds_script seeds-restore; }
group_seeds-warm() { group_seeds_script seeds-warm; }
# seeds-relocation: issue 20's experiment 4 (bench/seeds-relocation.sh,
# its own lab lock per part; it writes seeds-relocation.{json,md} itself),
# both arms: the static backend, then the CGI burning 400 ms per request.
group_seeds-relocation() {
	local locked=0
	[ ${#LOCK[@]} = 0 ] && locked=1 # the caller holds the lab lock
	BENCH_LOCKED=$locked BENCH_OUT=$OUT bash bench/seeds-relocation.sh || failed seeds-relocation "bench/seeds-relocation.sh"
	SEEDS_RELOC_BACKEND=cgi BENCH_LOCKED=$locked BENCH_OUT=$OUT bash bench/seeds-relocation.sh || failed seeds-relocation "SEEDS_RELOC_BACKEND=cgi bench/seeds-relocation.sh"
}

# seeds-rtt: issue 20's experiment 4, the probe's RTT and the timeout
# sweep (bench/seeds-rtt.sh, one hold of the lab lock; it writes
# seeds-rtt.{json,md} itself).
group_seeds-rtt() {
	local locked=0
	[ ${#LOCK[@]} = 0 ] && locked=1 # the caller holds the lab lock
	BENCH_LOCKED=$locked BENCH_OUT=$OUT bash bench/seeds-rtt.sh || failed seeds-rtt "bench/seeds-rtt.sh"
}

# seeds-migration: issue 20's experiment 3 (bench/seeds-migration.sh, its
# own lab lock per part; it writes seeds-migration.{json,md} itself).
group_seeds-migration() {
	local locked=0
	[ ${#LOCK[@]} = 0 ] && locked=1 # the caller holds the lab lock
	BENCH_LOCKED=$locked BENCH_OUT=$OUT bash bench/seeds-migration.sh || failed seeds-migration "bench/seeds-migration.sh"
}

all=(dns dnsservers standby lxd e2e drill proxy icmp probe probescale ha recover lab hypervisors proxyload sync syncfleet loadmove faults fleet seeds-restore seeds-warm seeds-migration seeds-relocation seeds-rtt) # and build
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=("${all[@]}")
for g in "${groups[@]}"; do
	declare -F "group_$g" >/dev/null || { echo "bench/run.sh: no group $g (have: ${all[*]})" >&2; exit 2; }
done
for g in "${groups[@]}"; do
	"group_$g"
done
# The seeds experiments' tables, those that exist, at the end.
for g in "${groups[@]}"; do
	case $g in
	seeds-*) [ ! -f "$OUT/$g.md" ] || { echo; cat "$OUT/$g.md"; } ;;
	esac
done
if [ ${#FAILED[@]} -gt 0 ]; then
	printf 'bench/run.sh: %d test run(s) failed; their results are missing:\n' ${#FAILED[@]} >&2
	printf '  %s\n' "${FAILED[@]}" >&2
	exit 1
fi
