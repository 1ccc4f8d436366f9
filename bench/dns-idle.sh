#!/usr/bin/env bash
# bench/dns-idle.sh: what the lab's DNS servers cost while idle.
#
#   bash bench/dns-idle.sh [SECONDS [COUNT]]    (default 20 s, 3 windows)
#
# For BIND (primary and secondary), Knot DNS and PowerDNS, found by their pid
# files under the lab directory, prints one Go benchmark line per server and
# window: the resident memory at the window's end (rss-MiB, VmRSS) and the CPU
# time the process used during the window as a share of one core (cpu-%).
# bench/run.sh dnsservers runs it under the lab lock, so no test traffic
# reaches the servers, and summarizes the lines. Read-only: it only looks at
# /proc.
set -euo pipefail
LAB_DIR=${UNDERSTUDY_LAB_DIR:-/var/lib/understudy-lab}
window=${1:-20} count=${2:-3}
declare -A PIDFILE=([BIND]=dns/named.pid [BINDSecondary]=dns2/named.pid [Knot]=knot/knot.pid [PowerDNS]=pdns/pdns.pid)
names=(BIND BINDSecondary Knot PowerDNS)
hz=$(getconf CLK_TCK)

# ticks PID prints the process's user plus system CPU time in clock ticks.
ticks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo $((${12} + ${13}))
}

declare -A pid=() t0=()
for n in "${names[@]}"; do
	p=$(cat "$LAB_DIR/${PIDFILE[$n]}" 2>/dev/null) || { echo "dns-idle: no pid file $LAB_DIR/${PIDFILE[$n]} (run lab.sh up)" >&2; exit 1; }
	[ -r "/proc/$p/stat" ] || { echo "dns-idle: $n (pid $p) does not run" >&2; exit 1; }
	pid[$n]=$p
done
for _ in $(seq 1 "$count"); do
	start=$(date +%s%N)
	for n in "${names[@]}"; do t0[$n]=$(ticks "${pid[$n]}"); done
	sleep "$window"
	end=$(date +%s%N)
	for n in "${names[@]}"; do
		used=$(($(ticks "${pid[$n]}") - ${t0[$n]}))
		rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/${pid[$n]}/status")
		awk -v n="$n" -v ns=$((end - start)) -v used="$used" -v hz="$hz" -v rss="$rss" 'BEGIN {
			printf "BenchmarkIdle%s-1\t1\t%.0f ns/op\t%.1f rss-MiB\t%.3f cpu-%%\n", n, ns, rss / 1024, 100 * used / hz / (ns / 1e9)
		}'
	done
done
