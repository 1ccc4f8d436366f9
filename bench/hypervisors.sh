#!/usr/bin/env bash
# bench/hypervisors.sh: Incus 6.0 LTS and LXD 5.0.2 side by side, on the same
# machine in one invocation, one lab after the other (they share bridges,
# subnets and ports). For each hypervisor, under the lab lock:
#   LAB_HYPERVISOR=H lab.sh up (the other kind's lab goes down first);
#   lxd's BenchmarkOps, BENCH_OPS iterations (default 10): create from the
#     local image, start, start until HTTP answers, freeze,
#     stop-copy-start to spare-1, forced stop;
#   e2e's BenchmarkFailoverWarm and BenchmarkFailoverCold, BENCH_FAILOVERS
#     iterations each (default 10): death of the primary to the DNS flip.
# Go runs each benchmark once more with one iteration first: n = N + 1.
# LXD goes first, so the lab ends on Incus, lab.sh's default.
#
# Writes, under BENCH_OUT (default bench/results):
#   hypervisors-H.log    the benchmarks' own output, per hypervisor (raw:
#                        BenchmarkOps' "ops-sample" lines, the failover
#                        benchmarks' per-iteration tables);
#   hypervisors.tsv      every value read from them: server, version,
#                        measurement, ms;
#   hypervisors.md       median (min–max, n) per measurement and hypervisor;
#                        lxd/README.md shows this table.
# `bash bench/hypervisors.sh --summarize` only derives the last two again
# from the logs. Needs root; takes the lab lock itself unless BENCH_LOCKED=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
OUT=${BENCH_OUT:-bench/results}
OPS=${BENCH_OPS:-10}
FAILOVERS=${BENCH_FAILOVERS:-10}
HVS=(${BENCH_HYPERVISORS:-lxd incus})
LOCK=(flock /tmp/understudy-lab.lock)
[ "${BENCH_LOCKED:-0}" = 1 ] && LOCK=()
mkdir -p "$OUT"
OUTABS=$(cd "$OUT" && pwd)

# values LOG prints the TSV rows of one hypervisor's log: BenchmarkOps'
# samples, then death→flip (column 2) of every row of the failover tables.
values() {
	awk '
		# go test may print a benchmark'"'"'s name on the same line first.
		(i = index($0, "ops-sample ")) > 0 {
			split(substr($0, i), f, " "); s = f[2]; v = f[3]
			printf "%s\t%s\t%s\t%s\n", f[2], f[3], f[4], f[5]; next
		}
		match($0, /(warm|cold) failover, [0-9]+ runs/) { mode = substr($0, RSTART, 4); next }
		mode != "" && $1 == "run" { next }
		mode != "" && $1 ~ /^[0-9]+$/ { rows[++n] = mode "-failover\t" $2; next }
		{ mode = "" }
		END { for (i = 1; i <= n; i++) printf "%s\t%s\t%s\n", s, v, rows[i] }' "$1"
}

measure() {
	local hv
	tmp=$(mktemp -d) # global: the EXIT trap removes it
	trap 'rm -rf "$tmp"' EXIT
	# The test binaries, built before any lock is taken.
	$GO test -c -o "$tmp/lxd.test" ./lxd
	$GO test -c -o "$tmp/e2e.test" ./e2e
	for hv in "${HVS[@]}"; do
		echo "== hypervisors: $hv" >&2
		# shellcheck disable=SC2016
		"${LOCK[@]}" env LAB_HYPERVISOR="$hv" LOG="$OUTABS/hypervisors-$hv.log" TMP="$tmp" OPS="$OPS" \
			FAILOVERS="$FAILOVERS" bash -c '
			set -euo pipefail
			bash examples/lab/lab.sh up >&2
			UNDERSTUDY_LAB_LOCKED=1 bash examples/demo.sh stop >&2
			(cd lxd && UNDERSTUDY_REQUIRE_LAB=1 "$TMP/lxd.test" -test.run "^\$" -test.bench "^BenchmarkOps\$" \
				-test.benchtime "${OPS}x" -test.count 1 -test.timeout 30m) >"$LOG" 2>&1
			(cd e2e && UNDERSTUDY_REQUIRE_LAB=1 "$TMP/e2e.test" -test.run "^\$" -test.bench "^BenchmarkFailover(Warm|Cold)\$" \
				-test.benchtime "${FAILOVERS}x" -test.count 1 -test.timeout 30m) >>"$LOG" 2>&1
		' || { echo "bench/hypervisors.sh: $hv FAILED (see $OUT/hypervisors-$hv.log)" >&2; rc=1; }
	done
}

rc=0
if [ "${1:-}" != --summarize ]; then
	# When and under what load it ran: hypervisors.run, read by --summarize too.
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ) load=$(cut -d' ' -f1-3 /proc/loadavg)
	measure
	printf 'started=%q\nended=%q\nload=%q\nload_end=%q\nOPS=%q\nFAILOVERS=%q\n' "$started" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" "$OPS" "$FAILOVERS" >"$OUT/hypervisors.run"
fi
# shellcheck disable=SC1091
. "$OUT/hypervisors.run"
for hv in "${HVS[@]}"; do values "$OUT/hypervisors-$hv.log"; done >"$OUT/hypervisors.tsv"

# The table: one row per measurement, one column per server.
{
	echo "# hypervisors"
	echo
	echo "- command: \`bash bench/hypervisors.sh\` (BENCH_OPS=$OPS, BENCH_FAILOVERS=$FAILOVERS; lxd \`BenchmarkOps\`, e2e \`BenchmarkFailover{Warm,Cold}\`)"
	echo "- run $started to $ended, nproc $(nproc), load average $load at the start, $load_end at the end"
	echo "- values: ms, median (min–max, n); every value in \`hypervisors.tsv\`, the benchmarks' output in \`hypervisors-*.log\`"
	echo
	sort -t$'\t' -k1,1 -k3,3 -k4,4n "$OUT/hypervisors.tsv" | awk -F'\t' '
		BEGIN {
			split("create start start-http freeze stop-copy-start forced-stop warm-failover cold-failover", order, " ")
			label["create"] = "create from the local image (`Ensure`)"
			label["start"] = "start (`Start`, the API call)"
			label["start-http"] = "start until HTTP answers"
			label["freeze"] = "freeze"
			label["stop-copy-start"] = "stop-copy-start standby-1 → spare-1 (pull, HTTPS)"
			label["forced-stop"] = "forced stop"
			label["warm-failover"] = "warm failover, death → DNS flip (e2e)"
			label["cold-failover"] = "cold failover, death → DNS flip (e2e)"
		}
		{ k = $1 SUBSEP $3; v[k, ++n[k]] = $4; if (!($1 in ver)) { ver[$1] = $2; srv[++ns] = $1 } }
		function cell(k,   c, m) {
			c = n[k]
			if (c == 0) return "–"
			m = (c % 2) ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
			return sprintf("%.0f (%.0f–%.0f, n=%d)", m, v[k, 1], v[k, c], c)
		}
		END {
			# Incus first: it is the primary target.
			if (ns == 2 && srv[2] == "incus") { t = srv[1]; srv[1] = srv[2]; srv[2] = t }
			h = "| measurement |"; sep = "|---|"
			for (i = 1; i <= ns; i++) { h = h " " srv[i] " " ver[srv[i]] " |"; sep = sep "---|" }
			print h; print sep
			for (j = 1; j <= 8; j++) {
				line = "| " label[order[j]] " |"
				for (i = 1; i <= ns; i++) line = line " " cell(srv[i] SUBSEP order[j]) " |"
				print line
			}
		}'
} >"$OUT/hypervisors.md"
cat "$OUT/hypervisors.md"
exit $rc
