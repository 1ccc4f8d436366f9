#!/usr/bin/env bash
# bench/haproxy.sh: HAProxy next to understudy, same lab, same warm standby
# container, same failures (primary force-stopped; primary blackholed), same
# load (10 concurrent clients, at most 4000 requests or 6 s per run), runs
# alternating in one go. understudy is the built binary: its agent prepares
# the warm standby container, its monitor confirms, fences and moves the
# service, its proxy holds the requests. HAProxy's backup server is that same
# standby container.
#
# Writes bench/results/haproxy.json (raw) and bench/results/haproxy.md
# (summary with the date and nproc), and prints the summary.
# ROUNDS=N (default 2, at most 3) sets the runs per failure and proxy.
#
# Needs root and the lab (bash examples/lab/lab.sh up). Installs Debian's
# haproxy when it is missing (never starts its service). Traffic goes only to
# loopback and to the test's own lab containers (t-proxy-c*), which the test
# removes. The measurement is TestIntegrationHAProxyComparison in proxy/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

if ! command -v haproxy >/dev/null 2>&1; then
	echo "installing Debian's haproxy" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy >/dev/null
fi
haproxy -v | head -1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/understudy" ./cmd/understudy
mkdir -p bench/results
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then commit="$commit+dirty"; fi
# One lab user at a time (see HACKING.md).
if ! flock /tmp/understudy-lab.lock env UNDERSTUDY_REQUIRE_LAB=1 UNDERSTUDY_BENCH_HAPROXY=1 \
	UNDERSTUDY_BIN="$tmp/understudy" UNDERSTUDY_COMMIT="$commit" UNDERSTUDY_BENCH_ROUNDS="${ROUNDS:-2}" \
	UNDERSTUDY_BENCH_RESULTS="$PWD/bench/results" \
	go test -count=1 -timeout 15m -run '^TestIntegrationHAProxyComparison$' -v ./proxy/ >"$tmp/out" 2>&1; then
	cat "$tmp/out" >&2
	echo "bench/haproxy.sh: the comparison failed (bench/results/haproxy.* are from this failed run if written)" >&2
	exit 1
fi
cat bench/results/haproxy.md
