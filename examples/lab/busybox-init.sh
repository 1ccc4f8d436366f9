#!/bin/sh
# /sbin/init of the understudy-busybox image (built by examples/lab/lab.sh).
#
# Network comes from the instance's environment (LXD/Incus `environment.*`
# config keys reach init's environment):
#   IPADDR   address of eth0 in CIDR form, e.g. 10.200.0.11/24 (none: no address)
#   GATEWAY  default route, e.g. 10.200.0.1 (optional)
# The service is busybox httpd on port 80 serving /var/www, whose index.html
# holds the container's hostname, so a GET tells which copy answered.
#   SLOW     1: the "slow application" instead (busybox-service.sh): a 2 s
#            warm-up, then a counter in memory that each GET returns and
#            increments (restore mode's drills and tests)
# `understudy-service stop|start` stops or starts just the service (drills).
# SIGPWR (graceful stop from LXD/Incus), SIGTERM and SIGINT end the container
# at once.
export PATH=/bin:/sbin

grep -q ' /proc ' /proc/mounts 2>/dev/null || mount -t proc proc /proc
grep -q ' /sys ' /proc/mounts || mount -t sysfs sysfs /sys
mkdir -p /tmp /run /var/www
# With lxc.console.path = none (restore mode, standby/README.md "Restore mode
# on this kernel") /dev/console is absent, and liblxc 5.0's checkpoint fails
# on stat(/dev/console): an empty placeholder file satisfies it.
[ -e /dev/console ] || : >/dev/console

ip link set lo up
if [ -n "$IPADDR" ]; then
	ip addr add "$IPADDR" dev eth0
fi
ip link set eth0 up
if [ -n "$IPADDR" ]; then
	# Announce the address (gratuitous ARP): a copy of this service that comes
	# up on a new MAC must not wait for the neighbours' stale entries to expire.
	arping -U -c 2 -I eth0 "${IPADDR%/*}" >/dev/null 2>&1 &
fi
if [ -n "$GATEWAY" ]; then
	ip route add default via "$GATEWAY"
fi

hostname > /var/www/index.html
# The service script also runs from `exec`, whose environment may lack SLOW.
echo "${SLOW:-0}" >/run/understudy-slow
/sbin/understudy-service start

halt() {
	/sbin/understudy-service stop
	exit 0
}
trap halt PWR TERM INT

# Stay alive whatever the service does; `wait` returns when a trapped signal
# arrives, so the trap runs at once.
while :; do
	sleep 3600 &
	wait $!
done
