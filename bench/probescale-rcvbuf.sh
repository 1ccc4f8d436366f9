#!/usr/bin/env bash
# bench/probescale-rcvbuf.sh: the probe engine at 10,000 targets at 1 s
# (bench/probescale) with internal/icmp and the tcp probe as they were
# before the 4 MiB receive buffer and the reset close (commit fee4d8c)
# and as they are, side by side: ROUNDS (default 2) rounds of before, after.
#
#   sudo bash bench/probescale-rcvbuf.sh
#
# Writes bench/results/probescale-rcvbuf/{before,after}-N/probescale.{json,md}
# and a summary probescale-rcvbuf.md. Needs root and a git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
BEFORE=fee4d8c
out=bench/results/probescale-rcvbuf
rounds=${ROUNDS:-2}
[ "$(id -u)" = 0 ] || { echo "bench/probescale-rcvbuf.sh: needs root (raw ICMP socket)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/before" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/after" ./bench/probescale
git worktree add -q --detach "$tmp/before" HEAD
(
	cd "$tmp/before"
	rm -f internal/icmp/rcvbuf*.go
	git checkout -q "$BEFORE" -- internal/icmp monitor/probe/probe_net.go
	go build -o "$tmp/before.bin" ./bench/probescale
)
rm -rf "$out"
mkdir -p "$out"
for r in $(seq "$rounds"); do
	for v in before after; do
		bin=$tmp/$v
		[ "$v" = before ] && bin=$tmp/before.bin
		mkdir -p "$out/$v-$r"
		nice -n 0 "$bin" -points 10000@1s -out "$out/$v-$r"
	done
done
{
	echo "# probescale-rcvbuf: 10,000 targets at 1 s, before ($BEFORE) and after the ICMP receive buffer and the reset close"
	echo
	echo "\`sudo bash bench/probescale-rcvbuf.sh\`, $(date -u +%Y-%m-%dT%H:%M:%SZ), $rounds rounds, alternating; each run's table below (bench/probescale's columns)."
	for d in "$out"/*-*/; do
		echo
		echo "## $(basename "$d")"
		echo
		sed -n '/^| targets/,/^$/p' "$d/probescale.md"
	done
} >"$out/probescale-rcvbuf.md"
echo "bench/probescale-rcvbuf.sh: wrote $out" >&2
