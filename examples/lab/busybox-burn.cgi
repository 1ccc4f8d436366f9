#!/bin/sh
# CGI of the understudy-busybox image: burns one CPU for about MS
# milliseconds (?ms=MS, default 100, at most 2000: bounded in time whatever
# the query), then answers the container's hostname and the loop count.
# Load tests use it to drive real CPU load on the VM that runs the container.
ms=100
case "$QUERY_STRING" in
ms=[0-9]*) ms=${QUERY_STRING#ms=} ms=${ms%%[!0-9]*} ;;
esac
[ "${#ms}" -le 4 ] && [ "$ms" -le 2000 ] || ms=2000
# now sets up to the centiseconds of /proc/uptime, without leading zeros
# (arithmetic would read them as octal) and without a subshell (no fork:
# the loop is all CPU).
now() {
	read -r up _ </proc/uptime
	up=${up%.*}${up#*.}
	while [ "${#up}" -gt 1 ] && [ "${up#0}" != "$up" ]; do up=${up#0}; done
}
now
end=$((up + (ms + 9) / 10))
n=0
# /proc/uptime may come from lxcfs (a FUSE read, whose CPU is not the
# container's): read it only every 500 rounds of pure arithmetic.
while now && [ "$up" -lt "$end" ]; do
	i=0
	while [ "$i" -lt 500 ]; do i=$((i + 1)); done
	n=$((n + 1))
done
printf 'Content-Type: text/plain\r\n\r\n%s %s\n' "$(hostname)" "$n"
