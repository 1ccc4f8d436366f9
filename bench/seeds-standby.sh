#!/usr/bin/env bash
# bench/seeds-standby.sh restore|restore-criu|warm: issue 20's experiments 1 and 2
# (VCRecovery), e2e BenchmarkSeedsRestore and BenchmarkSeedsWarm; run as
# bench/seeds-restore.sh, bench/seeds-restore-criu.sh and bench/seeds-warm.sh
# (groups seeds-restore, seeds-warm; restore-criu is no group). Per run, 4 full-OS primaries fail at once per arm:
#   restore  understudy-cold (cold containers started in the shared standby,
#            standby-1) against vm-restore (each primary's `incus export`,
#            taken in advance, imported and started on spare-1);
#   restore-criu  the same with understudy's arm in restore mode
#            (understudy-restore: a CRIU checkpoint of the booted container
#            restored; a cold start where that fails), SEEDS_RESTORE_MODE=restore;
#   warm     understudy-warm (running containers in the shared standby)
#            against vm-warm (one dedicated running standby instance per
#            service on spare-1);
# the baseline runs bench/seeds-vm-standby.sh as a playbook exec step after
# the same confirm and fence. The figure: injection -> all 4 served at
# their new address (DNS flipped at BIND, HTTP answers from the copy).
# P_RUNS runs of both arms per lab-lock hold (3), P_PARTS holds (2), where
# P is SEEDS_RESTORE or SEEDS_WARM. Needs the image (bench/seeds-image.sh,
# run first: cached after the first build). Writes
# bench/results/seeds-EXP/run-*.json (raw) and
# bench/results/seeds-EXP.{json,md}. P_SUMMARY=1: only the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
exp=${1:?usage: bench/seeds-standby.sh restore|restore-criu|warm}
case $exp in
restore) P=SEEDS_RESTORE bench=BenchmarkSeedsRestore ours=understudy-cold base=vm-restore ;;
restore-criu) P=SEEDS_RESTORE bench=BenchmarkSeedsRestore ours=understudy-restore base=vm-restore
	export SEEDS_RESTORE_MODE=restore ;;
warm) P=SEEDS_WARM bench=BenchmarkSeedsWarm ours=understudy-warm base=vm-warm ;;
*) echo "bench/seeds-standby.sh: no experiment $exp (restore, restore-criu, warm)" >&2; exit 2 ;;
esac
OUT=${BENCH_OUT:-bench/results}
RAW=$OUT/seeds-$exp
LOCK=(flock /tmp/understudy-lab.lock)
[ "${BENCH_LOCKED:-0}" = 1 ] && LOCK=()
v=${P}_RUNS runs=${!v:-3}
v=${P}_PARTS parts=${!v:-2}
v=${P}_SUMMARY summary=${!v:-0}
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >&2
mkdir -p "$RAW"
RAWABS=$(cd "$RAW" && pwd)
cmd="${SEEDS_RESTORE_MODE:+SEEDS_RESTORE_MODE=$SEEDS_RESTORE_MODE }${P}_OUT=DIR ${P}_RUNS=$runs ${P}_FIRST=N go test -count=1 -run '^\$' -bench '^$bench\$' -benchtime 1x ./e2e, $parts time(s)"
if [ "$summary" != 1 ]; then
	BENCH_LOCKED=${BENCH_LOCKED:-0} bash bench/seeds-image.sh
	bin=$(mktemp -d)
	go test -c -o "$bin/e2e.test" ./e2e
	go build -o "$bin/understudy" ./cmd/understudy
	rm -f "$RAW"/run-*.json
	for p in $(seq 1 "$parts"); do
		(cd e2e && "${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 E2E_QUIET=1 "${P}_OUT=$RAWABS" \
			"${P}_RUNS=$runs" "${P}_FIRST=$(((p - 1) * runs + 1))" "${P}_UNDERSTUDY=$bin/understudy" \
			"$bin/e2e.test" -test.run '^$' -test.bench "^$bench\$" -test.benchtime 1x -test.v -test.timeout 8m)
	done
	rm -rf "$bin"
fi
jq -s --arg cmd "bash bench/seeds-$exp.sh ($cmd)" --arg date "$(date -u +%FT%TZ)" --arg nproc "$(nproc)" \
	--arg commit "$(git rev-parse --short HEAD)" --arg ours "$ours" --arg base "$base" '
def med: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
def stat(f): [.[] | f] as $v | {median: ($v|med), min: ($v|min), max: ($v|max), n: ($v|length)};
def arm: {all_served_s: stat(.all_served_s), detected_s: stat(.detected_s|max), recovery_s: stat(.recovery_s|max), standbys: (.[0].standbys)};
(map(select(.arm == $ours))) as $o | (map(select(.arm == $base))) as $b |
($o | map({key: (.run|tostring), value: .all_served_s}) | from_entries) as $om |
{date: $date, nproc: $nproc, commit: $commit, command: $cmd, runs: .,
 ours: ($o | arm + {arm: $ours, fallbacks: [.[] | (.fallbacks // [])[]]}), base: ($b | arm + {arm: $base, backup_mb: (.[0].backup_mb), backup: (.[0].backup)}),
 ratio_pct: ([$b[] | select($om[.run|tostring]) | 100 * $om[.run|tostring] / .all_served_s] | {median: med, min: min, max: max, n: length}),
 load1: {start: (sort_by(.run, .order) | first.load1_start), end: (sort_by(.run, .order) | last.load1_end)}}' \
	"$RAW"/run-*.json >"$OUT/seeds-$exp.json"
if [ "$exp" = restore-criu ]; then
	title="restore mode (CRIU) in the shared standby against a VM restored from backup (issue 20 experiment 1, understudy's restore mode)"
	paper="47 % (cold)" goal="goal ≤ 10 %"
	how_ours="restore mode in the shared standby: its CRIU checkpoint restored, else a cold start"
	how_base="import of the export on spare-1, start, port check, DNS CAS"
elif [ "$exp" = restore ]; then
	title="cold shared standby against a VM restored from backup (VCRecovery, issue 20 experiment 1)"
	paper="47 %" goal="goal ≤ 10 %"
	how_ours="cold containers started in the shared standby" how_base="import of the export on spare-1, start, port check, DNS CAS"
else
	title="warm shared standby against a dedicated warm standby VM per service (VCRecovery, issue 20 experiment 2)"
	paper="≈ 100 % (about the same time)" goal="goal: equal within noise"
	how_ours="running containers in the shared standby" how_base="dedicated running instance per service on spare-1, port check, DNS CAS"
fi
cov=$RAW/coverage.json
[ -s "$cov" ] || echo '{}' >"$cov"
jq -r --arg title "$title" --arg paper "$paper" --arg goal "$goal" --arg ho "$how_ours" --arg hb "$how_base" --arg exp "$exp" --slurpfile cov "$cov" '
def r: . * 100 | round / 100;
def mm(s): "\(s.median|r) (\(s.min|r)–\(s.max|r))";
"# seeds-\($exp): \($title)\n",
"\(.date), nproc \(.nproc), commit \(.commit); 4 full-OS primaries (Debian 12, systemd, lighttpd) fail at once per arm (force-stop), the arms alternate first; load average (1 min) \(.load1.start) at the start, \(.load1.end) at the end\n",
"Command: `\(.command)`\n",
"| figure | paper | ours: median (min–max) | runs |", "|---|---|---|---|",
"| injection → all 4 served, \(.ours.arm) (\($ho)), s | — | \(mm(.ours.all_served_s)) | \(.ours.all_served_s.n) |",
"| injection → all 4 served, \(.base.arm) (\($hb)), s | — | \(mm(.base.all_served_s)) | \(.base.all_served_s.n) |",
"| **ratio \(.ours.arm) / \(.base.arm)**, per run, % (\($goal)) | \($paper) | **\(mm(.ratio_pct))** | \(.ratio_pct.n) |",
"| ratio of the medians, % | \($paper) | \((100 * .ours.all_served_s.median / .base.all_served_s.median)|r) | — |",
"| injection → last of the 4 detected, \(.ours.arm) / \(.base.arm), s | — | \(mm(.ours.detected_s)) / \(mm(.base.detected_s)) | \(.ours.detected_s.n) / \(.base.detected_s.n) |",
"| slowest recovery step of the 4 (activate / exec), s | — | \(mm(.ours.recovery_s)) / \(mm(.base.recovery_s)) | \(.ours.recovery_s.n) / \(.base.recovery_s.n) |",
(if .ours.arm == "understudy-restore" then "| restores that fell back to a cold start | — | \(.ours.fallbacks | map(select(. != "")) | length) of \(.ours.fallbacks | length)\(.ours.fallbacks | map(select(. != "")) | if length > 0 then "; the first: " + (.[0] | gsub("\n"; " / ") | .[0:420]) else "" end) | — |" else empty end),
"| standby VMs kept running for the 4 services | \(if .base.arm == "vm-warm" then "1 against 4" else "— (the backups only)" end) | \(.ours.standbys) against \(if .base.arm == "vm-warm" then .base.standbys else 0 end) | — |",
($cov[0] | select(.schemes and $exp == "warm") | (.schemes | map({key: .name, value: .}) | from_entries) as $s |
 "| standby VMs a year at \(.vm_month|r) \(.currency) a VM-month (the coverage report of `understudy plan` for the 4 services), dedicated warm / shared | about $15,000 a year saved (4 → 1) | \($s["dedicated-warm-standby"].cost_per_year|r) / \($s["understudy-shared-standby"].cost_per_year|r) \(.currency), \($s["understudy-shared-standby"].saved_per_year|r) saved | — |"),
"",
(if .base.backup then "Backups: \(.base.backup), \(.base.backup_mb|r) MiB each, kept under /var/lib/understudy-seeds/exports. " else "" end) +
"Raw runs: bench/results/seeds-\($exp)/run-*.json."
' "$OUT/seeds-$exp.json" >"$OUT/seeds-$exp.md"
cat "$OUT/seeds-$exp.md"
