#!/usr/bin/env bash
# bench/layout.sh [BEFORE [AFTER]]: the code's shape at two revisions, side
# by side (issue 16's before/after table). BEFORE defaults to the last
# commit before the redesign, AFTER to HEAD. Writes
#   bench/results/layout.json  both reports (every package's lines, files and
#                              largest type; the core's go list -deps),
#   bench/results/layout.md    the table the note and HACKING.md cite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
before=${1:-9780129}
after=${2:-HEAD}
OUT=${BENCH_OUT:-bench/results}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/before" >/dev/null 2>&1 || true; git worktree remove --force "$tmp/after" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/layout" ./bench/layout
for side in before after; do
	rev=${!side}
	git worktree add -q --detach "$tmp/$side" "$rev"
	# The core is recover at both revisions.
	"$tmp/layout" -dir "$tmp/$side" -core recover >"$tmp/$side.json"
done
mkdir -p "$OUT"
b=$(git rev-parse --short "$before")
a=$(git rev-parse --short "$after")
{
	printf '{"before_rev": "%s", "after_rev": "%s", "date": "%s",\n"before": ' "$b" "$a" "$(date -u +%FT%TZ)"
	cat "$tmp/before.json"
	printf ',\n"after": '
	cat "$tmp/after.json"
	printf '}\n'
} >"$OUT/layout.json"
"$tmp/layout" -compare -revs "$b,$a" "$tmp/before.json" "$tmp/after.json" >"$OUT/layout.md"
cat "$OUT/layout.md"
