#!/usr/bin/env bash
# bench/haproxy.sh: HAProxy next to understudy's proxy, same lab backends,
# same failures (primary force-stopped; primary blackholed), same load
# (10 concurrent clients, at most 4000 requests or 6 s per run). Prints
# one table row per run: client-visible errors and worst latency.
#
# Needs root and the lab (make lab-up). Installs Debian's haproxy when it is
# missing (never starts its service). Traffic goes only to loopback and to
# the test's own lab containers (t-proxy-*), which the test removes.
# The measurement itself is TestIntegrationHAProxyComparison in proxy/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

if ! command -v haproxy >/dev/null 2>&1; then
	echo "installing Debian's haproxy" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy >/dev/null
fi
haproxy -v | head -1

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One lab user at a time (see HACKING.md).
if ! flock /tmp/understudy-lab.lock env UNDERSTUDY_REQUIRE_LAB=1 UNDERSTUDY_BENCH_HAPROXY=1 \
	go test -count=1 -timeout 10m -run '^TestIntegrationHAProxyComparison$' -v ./proxy/ >"$out" 2>&1; then
	cat "$out" >&2
	echo "bench/haproxy.sh: the comparison failed" >&2
	exit 1
fi
grep -E '^\s+haproxy_test.go:[0-9]+: \|' "$out" | sed -E 's/^\s+haproxy_test.go:[0-9]+: //'
