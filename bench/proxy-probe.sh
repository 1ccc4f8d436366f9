#!/usr/bin/env bash
# bench/proxy-probe.sh: what the proxy's per-request ICMP probe costs
# against a lab container (not loopback): the RTT of one echo, and GET
# latency through the proxy with and without the probe, interleaved, from 10
# concurrent clients (BenchmarkProbeLab in proxy/).
#
# Writes bench/results/proxy-probe.json (raw samples) and
# bench/results/proxy-probe.md (summary with the date and nproc), and prints
# the summary. N=count sets the probes and the GETs per variant (default 2000).
#
# Needs root and the lab (bash examples/lab/lab.sh up). Creates and removes
# its own container t-proxy-probe (10.200.0.180).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bench/results
# One lab user at a time (see HACKING.md).
flock /tmp/understudy-lab.lock env UNDERSTUDY_REQUIRE_LAB=1 UNDERSTUDY_BENCH_RESULTS="$PWD/bench/results" \
	go test -count=1 -timeout 10m -run '^$' -bench '^BenchmarkProbeLab$' -benchtime "${N:-2000}x" ./proxy/
cat bench/results/proxy-probe.md
