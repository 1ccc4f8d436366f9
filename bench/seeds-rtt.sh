#!/usr/bin/env bash
# bench/seeds-rtt.sh: issue 20's probe measurement (FastContainer: 1,000
# ICMP probes, mean about 1 ms, max about 16 ms), proxy
# BenchmarkSeedsRTTLab: SEEDS_RTT_N (1000) rounds per condition against the
# healthy lab container t-proxy-probe (10.200.0.180, the proxy's probe
# benches' address), each round one echo with a 1 s timeout (the RTT
# sample) and one echo per timeout of the sweep (1, 10, 100 ms; every
# unanswered one a false miss), SEEDS_RTT_GAP_MS (10) apart. Conditions:
# idle, load-static (10 closed-loop clients through a probing proxy to the
# container's httpd, experiment 4's load), load-cgi (the same clients on
# /cgi-bin/burn?ms=400, probe-timeout 100 ms). Writes
# bench/results/seeds-rtt.json (raw samples) and seeds-rtt.md. One hold of
# the lab lock (about 2 minutes); BENCH_LOCKED=1: the caller holds it.
# Needs root and the lab (bash examples/lab/lab.sh up).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
OUT=${BENCH_OUT:-bench/results}
mkdir -p "$OUT"
OUTABS=$(cd "$OUT" && pwd)
LOCK=(flock /tmp/understudy-lab.lock)
[ "${BENCH_LOCKED:-0}" = 1 ] && LOCK=()
bin=${SEEDS_RTT_BIN:-} # a test binary built before the lock, else built here
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/proxy.test
	go test -c -o "$bin" ./proxy
fi
(cd proxy && "${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 UNDERSTUDY_BENCH_RESULTS="$OUTABS" \
	SEEDS_RTT_N="${SEEDS_RTT_N:-1000}" SEEDS_RTT_GAP_MS="${SEEDS_RTT_GAP_MS:-10}" \
	"$bin" -test.run '^$' -test.bench '^BenchmarkSeedsRTTLab$' -test.benchtime 1x -test.v -test.timeout 12m)
cat "$OUT/seeds-rtt.md"
