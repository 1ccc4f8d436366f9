#!/usr/bin/env bash
# security.sh: `systemd-analyze security --offline=yes` of the package's
# units (no running systemd needed), raw output in
# examples/packaging/results/security.txt with the date and systemd's
# version; prints each unit's overall exposure (0 = locked down, 10 = none).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
mkdir -p results
out=results/security.txt
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(systemd-analyze --version | head -n 1)"
	echo "# command: systemd-analyze security --offline=yes --no-pager systemd/UNIT"
	for u in systemd/*.service; do
		echo "## $(basename "$u")"
		systemd-analyze security --offline=yes --no-pager "$u" 2>&1
	done
} >"$out"
grep 'Overall exposure level' "$out"
