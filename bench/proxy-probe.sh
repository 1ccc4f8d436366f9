#!/usr/bin/env bash
# bench/proxy-probe.sh: what the proxy's per-request ICMP probe costs
# against a lab container (not loopback).
#
#   bash bench/proxy-probe.sh        the RTT of one echo, and GET latency through the proxy with
#                                    and without the probe, interleaved, from 10 concurrent clients
#                                    (BenchmarkProbeLab); bench/results/proxy-probe.{json,md}
#   bash bench/proxy-probe.sh load   the proxy under wrk -t2 -c10 saturation against a plain
#                                    httputil.ReverseProxy, in alternating pairs, BEFORE and after
#                                    (BenchmarkProxyLoadLab): false suspects reported, false holds,
#                                    the throughput ratio, the probe decision's ns/op;
#                                    bench/results/proxyload.{json,md} (bash bench/run.sh proxyload)
#
# N=count sets the probes and the GETs per variant (default 2000). For load:
# PROXY_LOAD_PAIRS (6) pairs of PROXY_LOAD_SECONDS (10) s runs per revision;
# BEFORE=rev (default 76d0083, the last revision with the fixed 10 ms probe
# timeout; "none" skips it) is exported (git archive) to a temporary directory, with this
# revision's proxy/bench_load_lab_test.go copied in; installs wrk from
# Debian's packages when missing. Both revisions run in one hold of the lab
# lock (about 5 minutes with the defaults); BENCH_LOCKED=1: the caller holds it.
# UNDERSTUDY_BENCH_RESULTS=dir writes elsewhere than bench/results.
#
# Needs root and the lab (bash examples/lab/lab.sh up). Creates and removes
# its own container t-proxy-probe (10.200.0.180).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
results=${UNDERSTUDY_BENCH_RESULTS:-$PWD/bench/results}
mkdir -p "$results"
results=$(cd "$results" && pwd)
LOCK=(flock /tmp/understudy-lab.lock)
[ "${BENCH_LOCKED:-0}" = 1 ] && LOCK=()

if [ "${1:-}" != load ]; then
	# One lab user at a time (see HACKING.md).
	"${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 UNDERSTUDY_BENCH_RESULTS="$results" \
		go test -count=1 -timeout 10m -run '^$' -bench '^BenchmarkProbeLab$' -benchtime "${N:-2000}x" ./proxy/
	cat "$results/proxy-probe.md"
	exit 0
fi

if ! command -v wrk >/dev/null; then
	echo "bench/proxy-probe.sh: installing wrk (Debian package)" >&2
	apt-get update -qq >&2
	apt-get install -y wrk >&2
fi
before=${BEFORE:-76d0083}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The test binaries are built before the lock is taken.
go test -c -o "$tmp/after.test" ./proxy/
after_commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- proxy || echo -dirty)
rm -f "$results/proxyload-before.json"
if [ "$before" != none ]; then
	mkdir "$tmp/before"
	git archive "$before" | tar -x -C "$tmp/before"
	cp proxy/bench_load_lab_test.go "$tmp/before/proxy/"
	(cd "$tmp/before" && go test -c -o "$tmp/before.test" ./proxy/)
	before_commit=$(git rev-parse --short "$before")
fi
# run LABEL BINARY COMMIT: one revision's pairs (the caller holds the lab lock).
run() {
	(cd proxy && env UNDERSTUDY_REQUIRE_LAB=1 UNDERSTUDY_BENCH_RESULTS="$results" \
		PROXY_LOAD_LABEL="$1" UNDERSTUDY_COMMIT="$3" \
		"$2" -test.run '^$' -test.bench '^BenchmarkProxyLoadLab$' -test.benchtime 1x -test.timeout 8m -test.v)
}
# Both revisions in one hold of the lab lock (about 2 × (2 × pairs × seconds
# + 15 s)), so that they run side by side under the same conditions.
if [ ${#LOCK[@]} -gt 0 ]; then
	exec 9>/tmp/understudy-lab.lock
	flock 9
fi
if [ "$before" != none ]; then
	run before "$tmp/before.test" "$before_commit"
fi
run after "$tmp/after.test" "$after_commit"
if [ ${#LOCK[@]} -gt 0 ]; then
	flock -u 9
	exec 9>&-
fi
cat "$results/proxyload.md"
