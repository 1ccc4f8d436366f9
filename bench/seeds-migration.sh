#!/usr/bin/env bash
# bench/seeds-migration.sh: issue 20's experiment 3 (VCRecovery: container
# migration time and downtime), e2e BenchmarkSeedsMigration: a warm
# standby container with SEEDS_MIG_MB (900) MB of its own random data,
# migrated to spare-1 by `POST /v1/services/NAME/migrate` (hold, stop-copy-
# start, DNS CAS, release), migration.bandwidth SEEDS_MIG_BW (1Gbit),
# SEEDS_MIG_RUNS runs per lab-lock hold (3), SEEDS_MIG_PARTS holds (2).
# Writes bench/results/seeds-migration/run-*.json (raw) and
# bench/results/seeds-migration.{json,md}. SEEDS_MIG_SUMMARY=1: only the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
OUT=${BENCH_OUT:-bench/results}
RAW=$OUT/seeds-migration
LOCK=(flock /tmp/understudy-lab.lock)
[ "${BENCH_LOCKED:-0}" = 1 ] && LOCK=()
# jq summarises the runs; a fresh machine has it only from here.
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >&2
mkdir -p "$RAW"
RAWABS=$(cd "$RAW" && pwd)
cmd="SEEDS_MIG_OUT=DIR SEEDS_MIG_RUNS=${SEEDS_MIG_RUNS:-3} go test -count=1 -run '^\$' -bench '^BenchmarkSeedsMigration\$' -benchtime 1x ./e2e, ${SEEDS_MIG_PARTS:-2} time(s)"
if [ "${SEEDS_MIG_SUMMARY:-0}" != 1 ]; then
	bin=$(mktemp -d)/e2e.test
	go test -c -o "$bin" ./e2e
	rm -f "$RAW"/run-*.json
	for _ in $(seq 1 "${SEEDS_MIG_PARTS:-2}"); do
		(cd e2e && "${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 E2E_QUIET=1 SEEDS_MIG_OUT="$RAWABS" \
			SEEDS_MIG_RUNS="${SEEDS_MIG_RUNS:-3}" "$bin" -test.run '^$' -test.bench '^BenchmarkSeedsMigration$' -test.benchtime 1x -test.v -test.timeout 15m)
	done
fi
jq -s --arg cmd "bash bench/seeds-migration.sh ($cmd)" --arg date "$(date -u +%FT%TZ)" --arg nproc "$(nproc)" '
def med: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
def stat(f): [.[] | f] as $v | {median: ($v|med), min: ($v|min), max: ($v|max), n: ($v|length)};
{date: $date, nproc: $nproc, command: $cmd, runs: .,
 migration_s: stat(.migration_s), copy_step_s: stat(.copy_step_s), dns_downtime_s: stat(.dns_downtime_s),
 proxy_gap_s: stat(.proxy_gap_s), proxy_failed: stat(.proxy_failed), proxy_slowest_s: stat(.proxy_slowest_s),
 paper: {migration_s: [17, 21], downtime_s: [5.4, 9.0]}}' "$RAW"/run-*.json >"$OUT/seeds-migration.json"
jq -r '
def r: . * 100 | round / 100;
def row(name; paper; s; mid): "| \(name) | \(paper) | \(s.median|r) (\(s.min|r)–\(s.max|r)) | \((s.median / mid)|r) | \(s.n) |";
"# seeds-migration: container migration time and downtime (VCRecovery, issue 20 experiment 3)\n",
"\(.date), nproc \(.nproc); \(.runs[0].data_mb) MB of random data in the standby container, migration.bandwidth \(.runs[0].bandwidth), \(.runs[0].how)\n",
"Command: `\(.command)`\n",
"| figure | paper | ours: median (min–max) | ratio ours/paper midpoint | runs |", "|---|---|---|---|---|",
row("migration time (request → closed), s"; "17–21 s"; .migration_s; 19),
row("downtime through DNS (the longest gap between two successes), s"; "5.4–9.0 s"; .dns_downtime_s; 7.2),
row("longest gap through the proxy (held requests), s"; "5.4–9.0 s"; .proxy_gap_s; 7.2),
"| failed requests through the proxy | — | \(.proxy_failed.median) (\(.proxy_failed.min)–\(.proxy_failed.max)) | — | \(.proxy_failed.n) |"
' "$OUT/seeds-migration.json" >"$OUT/seeds-migration.md"
cat "$OUT/seeds-migration.md"
