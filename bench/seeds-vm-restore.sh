#!/usr/bin/env bash
# bench/seeds-vm-restore.sh: the conventional cold standby's recovery in
# issue 20's experiment 1 (bench/seeds-restore.sh): the failed primary
# "VM" restored from the backup taken in advance (`incus export`) onto
# another hypervisor, started, its port checked, and its DNS name flipped
# with the same compare-and-swap understudy uses. The baseline services'
# playbook runs it as an `exec` step after confirm and fence, so detection,
# confirmation and the fence are the monitor's own on both arms.
#
#   seeds-vm-restore.sh DAEMON BACKUP INSTANCE ADDR GATEWAY FQDN OLD INVENTORY UNDERSTUDY
#
# DAEMON is the lab daemon to restore on (spare-1), BACKUP the tarball,
# INSTANCE the restored instance's name, ADDR/GATEWAY its address on
# DAEMON's bridge (environment.IPADDR/GATEWAY of the image's network unit),
# FQDN the name flipped from OLD (the primary's address) to ADDR with
# `UNDERSTUDY dns -f INVENTORY set --expect OLD`. Exit 0: served and flipped.
set -euo pipefail
[ $# = 9 ] || { sed -n 10p "$0" >&2; exit 2; }
daemon=$1 backup=$2 name=$3 addr=$4 gw=$5 fqdn=$6 old=$7 inv=$8 us=$9
lab="$(dirname "$0")/../examples/lab/lab.sh"
cli() { bash "$lab" cli "$daemon" "$@"; }
step() { echo "seeds-vm-restore $name: $* (+$((($(date +%s%N) - t0) / 1000000)) ms)" >&2; }
t0=$(date +%s%N)
cli import "$backup" "$name" >&2
step "imported $backup"
cli config set "$name" environment.IPADDR="$addr/24" environment.GATEWAY="$gw" >&2
cli start "$name" >&2
step "started"
# The port check: an HTTP answer from the restored instance.
until curl -fsS -m 1 -o /dev/null "http://$addr/"; do sleep 0.05; done
step "http://$addr/ answers"
"$us" dns -f "$inv" set "$fqdn" "$addr" --expect "$old" >&2
step "$fqdn flipped from $old to $addr"
