#!/usr/bin/env bash
# bench/seeds-restore.sh: issue 20's experiment 1 (VCRecovery: the cold
# shared standby against the conventional cold standby, a VM restored from
# its backup), e2e BenchmarkSeedsRestore: 4 full-OS primaries fail at once
# per arm; arm understudy-cold starts their cold containers in the shared
# standby (standby-1), arm vm-restore imports each primary's `incus export`
# on spare-1 (bench/seeds-vm-restore.sh, a playbook exec step after the same
# confirm and fence). The figure: injection -> all 4 served at their new
# address (DNS flipped, HTTP answers). SEEDS_RESTORE_RUNS runs of both arms
# per lab-lock hold (3), SEEDS_RESTORE_PARTS holds (2). Needs the image
# (bench/seeds-image.sh, which this runs first: cached after the first
# build). Writes bench/results/seeds-restore/run-*.json (raw) and
# bench/results/seeds-restore.{json,md}. SEEDS_RESTORE_SUMMARY=1: only the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
OUT=${BENCH_OUT:-bench/results}
RAW=$OUT/seeds-restore
LOCK=(flock /tmp/understudy-lab.lock)
[ "${BENCH_LOCKED:-0}" = 1 ] && LOCK=()
runs=${SEEDS_RESTORE_RUNS:-3} parts=${SEEDS_RESTORE_PARTS:-2}
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >&2
mkdir -p "$RAW"
RAWABS=$(cd "$RAW" && pwd)
cmd="SEEDS_RESTORE_OUT=DIR SEEDS_RESTORE_RUNS=$runs SEEDS_RESTORE_FIRST=N go test -count=1 -run '^\$' -bench '^BenchmarkSeedsRestore\$' -benchtime 1x ./e2e, $parts time(s)"
if [ "${SEEDS_RESTORE_SUMMARY:-0}" != 1 ]; then
	BENCH_LOCKED=${BENCH_LOCKED:-0} bash bench/seeds-image.sh
	bin=$(mktemp -d)
	go test -c -o "$bin/e2e.test" ./e2e
	go build -o "$bin/understudy" ./cmd/understudy
	rm -f "$RAW"/run-*.json
	for p in $(seq 1 "$parts"); do
		(cd e2e && "${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 E2E_QUIET=1 SEEDS_RESTORE_OUT="$RAWABS" \
			SEEDS_RESTORE_RUNS="$runs" SEEDS_RESTORE_FIRST=$(((p - 1) * runs + 1)) SEEDS_RESTORE_UNDERSTUDY="$bin/understudy" \
			"$bin/e2e.test" -test.run '^$' -test.bench '^BenchmarkSeedsRestore$' -test.benchtime 1x -test.v -test.timeout 8m)
	done
	rm -rf "$bin"
fi
jq -s --arg cmd "bash bench/seeds-restore.sh ($cmd)" --arg date "$(date -u +%FT%TZ)" --arg nproc "$(nproc)" \
	--arg commit "$(git rev-parse --short HEAD)" '
def med: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
def stat(f): [.[] | f] as $v | {median: ($v|med), min: ($v|min), max: ($v|max), n: ($v|length)};
(map(select(.arm == "understudy-cold"))) as $c | (map(select(.arm == "vm-restore"))) as $v |
($c | map({key: (.run|tostring), value: .all_served_s}) | from_entries) as $cm |
{date: $date, nproc: $nproc, commit: $commit, command: $cmd, runs: .,
 cold: {all_served_s: ($c|stat(.all_served_s)), detected_s: ($c|stat(.detected_s|max)), recovery_s: ($c|stat(.recovery_s|max))},
 vm: {all_served_s: ($v|stat(.all_served_s)), detected_s: ($v|stat(.detected_s|max)), recovery_s: ($v|stat(.recovery_s|max)),
      backup_mb: ($v[0].backup_mb), backup: ($v[0].backup)},
 ratio_pct: ([$v[] | select($cm[.run|tostring]) | 100 * $cm[.run|tostring] / .all_served_s] | {median: med, min: min, max: max, n: length}),
 load1: {start: (sort_by(.run, .order) | first.load1_start), end: (sort_by(.run, .order) | last.load1_end)},
 paper: {ratio_pct: 47, goal_pct: 10}}' "$RAW"/run-*.json >"$OUT/seeds-restore.json"
jq -r '
def r: . * 100 | round / 100;
def mm(s): "\(s.median|r) (\(s.min|r)–\(s.max|r))";
"# seeds-restore: cold shared standby against a VM restored from backup (VCRecovery, issue 20 experiment 1)\n",
"\(.date), nproc \(.nproc), commit \(.commit); 4 full-OS primaries (Debian 12, systemd, lighttpd) fail at once per arm (force-stop); load average (1 min) \(.load1.start) at the start, \(.load1.end) at the end\n",
"Command: `\(.command)`\n",
"| figure | paper | ours: median (min–max) | runs |", "|---|---|---|---|",
"| injection → all 4 served, understudy cold (containers started in the shared standby), s | — | \(mm(.cold.all_served_s)) | \(.cold.all_served_s.n) |",
"| injection → all 4 served, VM restore (import of the export on spare-1, start, port check, DNS CAS), s | — | \(mm(.vm.all_served_s)) | \(.vm.all_served_s.n) |",
"| **ratio understudy cold / VM restore**, per run, % (goal ≤ 10 %) | 47 % | **\(mm(.ratio_pct))** | \(.ratio_pct.n) |",
"| ratio of the medians, % | 47 % | \((100 * .cold.all_served_s.median / .vm.all_served_s.median)|r) | — |",
"| injection → last of the 4 detected, understudy cold / VM restore, s | — | \(mm(.cold.detected_s)) / \(mm(.vm.detected_s)) | \(.cold.detected_s.n) / \(.vm.detected_s.n) |",
"| slowest recovery step of the 4 (activate: cold start / exec: restore), s | — | \(mm(.cold.recovery_s)) / \(mm(.vm.recovery_s)) | \(.cold.recovery_s.n) / \(.vm.recovery_s.n) |",
"",
"Backups: \(.vm.backup), \(.vm.backup_mb|r) MB each, kept under /var/lib/understudy-seeds/exports. Raw runs: bench/results/seeds-restore/run-*.json."
' "$OUT/seeds-restore.json" >"$OUT/seeds-restore.md"
cat "$OUT/seeds-restore.md"
