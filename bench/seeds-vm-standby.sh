#!/usr/bin/env bash
# bench/seeds-vm-standby.sh: the conventional standby's recovery in issue
# 20's experiments 1 and 2 (bench/seeds-restore.sh, bench/seeds-warm.sh),
# run by the baseline services' playbook as an `exec` step after the
# monitor's own confirm and fence, so only the recovery differs:
#   restore  the failed primary "VM" restored from the backup taken in
#            advance (`incus export`) on another hypervisor, started;
#   warm     the service's dedicated standby instance already runs there;
# then, both, the port check and the DNS name flipped with the same
# compare-and-swap understudy uses.
#
#   seeds-vm-standby.sh restore|warm DAEMON BACKUP INSTANCE ADDR GATEWAY FQDN OLD INVENTORY UNDERSTUDY
#
# DAEMON is the lab daemon of the standby instance (spare-1), BACKUP the
# tarball (restore; "-" for warm), INSTANCE the instance's name, ADDR and
# GATEWAY its address on DAEMON's bridge (environment.IPADDR/GATEWAY of the
# image's network unit), FQDN the name flipped from OLD (the primary's
# address) to ADDR with `UNDERSTUDY dns -f INVENTORY set --expect OLD`.
# Exit 0: served and flipped.
set -euo pipefail
[ $# = 10 ] || { sed -n 12p "$0" >&2; exit 2; }
action=$1 daemon=$2 backup=$3 name=$4 addr=$5 gw=$6 fqdn=$7 old=$8 inv=$9 us=${10}
lab="$(dirname "$0")/../examples/lab/lab.sh"
cli() { bash "$lab" cli "$daemon" "$@"; }
step() { echo "seeds-vm-standby $name: $* (+$((($(date +%s%N) - t0) / 1000000)) ms)" >&2; }
t0=$(date +%s%N)
case $action in
restore)
	cli import "$backup" "$name" >&2
	step "imported $backup"
	cli config set "$name" environment.IPADDR="$addr/24" environment.GATEWAY="$gw" >&2
	cli start "$name" >&2
	step "started"
	;;
warm) ;;
*) sed -n 12p "$0" >&2; exit 2 ;;
esac
# The port check: an HTTP answer from the standby instance.
until curl -fsS -m 1 -o /dev/null "http://$addr/"; do sleep 0.05; done
step "http://$addr/ answers"
"$us" dns -f "$inv" set "$fqdn" "$addr" --expect "$old" >&2
step "$fqdn flipped from $old to $addr"
