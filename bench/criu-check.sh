#!/usr/bin/env bash
# bench/criu-check.sh: the kernel facts behind restore mode and live
# migration on this machine, into bench/results/criu-check.txt (BENCH_OUT):
# the built criu's `criu check --all` and each of its features one by one
# (`criu check --feature NAME`), the kernel's config options CRIU uses
# (/proc/config.gz when the kernel has it), the LSMs and the capabilities
# the lab's daemons inherit from this shell.
#
#   sudo bash bench/criu-check.sh      (after `make criu`, or any `lab.sh up`)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BENCH_OUT:-bench/results}
DIR=${UNDERSTUDY_CRIU_DIR:-/var/lib/understudy-criu}
REAL=$DIR/libexec/criu # the binary itself: the wrapper only edits dump/restore arguments
[ "$(id -u)" = 0 ] || { echo "criu-check: run as root (criu check needs it)" >&2; exit 1; }
[ -x "$REAL" ] || { echo "criu-check: no built criu at $REAL: run \`make criu\` first" >&2; exit 1; }

# The options CRIU's documentation and its checks rely on, and what each is for.
OPTIONS=(
	"CHECKPOINT_RESTORE:criu at all (kcmp, /proc/PID/map_files, set_tid)"
	"NAMESPACES:containers"
	"PID_NS:containers"
	"NET_NS:containers"
	"TIME_NS:timens (criu dumps and restores the container's time namespace)"
	"MEM_SOFT_DIRTY:dirty-memory tracking: pre-dump, iterative pre-copy of a live migration"
	"USERFAULTFD:lazy pages: post-copy of a live migration"
	"UNIX_DIAG:dumping unix sockets"
	"INET_DIAG:dumping TCP/UDP sockets"
	"INET_TCP_DIAG:dumping TCP sockets"
	"INET_UDP_DIAG:dumping UDP sockets"
	"PACKET_DIAG:dumping packet sockets"
	"NETLINK_DIAG:dumping netlink sockets"
	"TUN:tun devices"
	"FANOTIFY:fanotify"
	"INOTIFY_USER:inotify"
	"NF_TABLES:network locking during dump (nftables)"
	"SECURITY_APPARMOR:AppArmor (liblxc's --lsm-profile apparmor:...)"
	"SECURITY_SELINUX:SELinux"
	"VHOST_VSOCK:Incus virtual machines (not CRIU)"
)

{
	echo "# criu check on $(hostname) ($(date -u +%FT%TZ))"
	echo "# written by: sudo bash bench/criu-check.sh"
	echo
	echo "kernel: $(uname -r)"
	echo "criu: $("$REAL" --version | awk '/^Version/ {print $2}') ($REAL, built by examples/lab/criu-build.sh)"
	echo
	echo "## criu check --all"
	"$REAL" check --all 2>&1 || true
	echo
	echo "## criu check --feature NAME, one by one"
	# The names are those of this criu's source (cr-check.c's feature_list).
	feats=$(sed -n 's/^\t{ "\([a-z0-9_-]*\)", check_.*/\1/p' "$DIR/tree/criu/cr-check.c" 2>/dev/null || true)
	[ -n "$feats" ] || echo "(no criu source tree under $DIR/tree: skipped)"
	for f in $feats; do
		if msg=$("$REAL" check --feature "$f" 2>&1); then
			printf '%-26s ok\n' "$f"
		else
			msg=$(echo "$msg" | grep -v '^$' | tail -n 1 || true)
			printf '%-26s MISSING: %s\n' "$f" "${msg:-(criu check says nothing more)}"
		fi
	done
	echo
	echo "## kernel config (/proc/config.gz)"
	if [ -r /proc/config.gz ]; then
		for o in "${OPTIONS[@]}"; do
			name=${o%%:*} why=${o#*:}
			v=$(zcat /proc/config.gz | grep -E "^(# )?CONFIG_$name(=| is not set)" | head -n 1 || true)
			printf '%-40s %s\n' "${v:-CONFIG_$name absent}" "($why)"
		done
	else
		echo "this kernel has no /proc/config.gz (CONFIG_IKCONFIG_PROC off)"
	fi
	echo
	echo "## LSMs"
	echo "/sys/kernel/security/lsm: $(cat /sys/kernel/security/lsm 2>/dev/null || echo "(none: securityfs empty or not mounted)")"
	echo "/sys/kernel/security/apparmor: $([ -d /sys/kernel/security/apparmor ] && echo present || echo absent)"
	echo
	echo "## capabilities of this shell (the lab's daemons inherit them)"
	grep -E '^Cap(Eff|Bnd)' /proc/self/status
	eff=$(awk '/^CapEff/ {print $2}' /proc/self/status)
	if (((16#$eff >> 24) & 1)); then
		echo "CAP_SYS_RESOURCE: present"
	else
		echo "CAP_SYS_RESOURCE: missing (criu logs \"rlimit: Can't setup RLIMIT_NOFILE for self\" and carries on with the caller's limit)"
	fi
	echo "RLIMIT_NOFILE: soft $(ulimit -Sn), hard $(ulimit -Hn); fs.nr_open $(cat /proc/sys/fs/nr_open)"
} >"$OUT/criu-check.txt"
cat "$OUT/criu-check.txt"
