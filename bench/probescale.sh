#!/usr/bin/env bash
# bench/probescale.sh: the monitor's probe engine at scale (issue 17, "Scale
# of the monitor itself"). One engine (monitor/probe) per point probing
# 1,000, 3,000 and 10,000 targets on loopback (ICMP to 127.1.x.y, TCP to
# loopback listeners in another process, the instance state through an
# in-process hypervisor) at 1 s and 250 ms; per point the CPU (cores), RSS,
# p50/p99/max lateness of probe starts against their schedule and the time
# from a service's death to the engine's ServiceDown.
#
#   sudo bash bench/probescale.sh [-points 1000@1s,...] [-window 20s] [-deaths 20]
#
# Writes bench/results/probescale.json (every value, the date, nproc, Go,
# the load average at the start and end of each point) and probescale.md
# (the table monitor/probe/README.md cites); PROBESCALE_OUT writes
# elsewhere. Needs root (the raw ICMP socket). It uses no lab and takes no
# lock; run it at nice 0 on a machine as quiet as you can get: the load
# average is in the results.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
out=${PROBESCALE_OUT:-bench/results}
[ "$(id -u)" = 0 ] || { echo "bench/probescale.sh: needs root (raw ICMP socket)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/probescale" ./bench/probescale
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || true
nice -n 0 "$tmp/probescale" -out "$out" "$@"
echo "bench/probescale.sh: wrote $out/probescale.json and $out/probescale.md" >&2
