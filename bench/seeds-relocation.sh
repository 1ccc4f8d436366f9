#!/usr/bin/env bash
# bench/seeds-relocation.sh: issue 20's experiment 4 (FastContainer:
# per-request relocation under load), e2e BenchmarkSeedsRelocation: a warm
# busybox service with proxy-reroute: warm under SEEDS_RELOC_CLIENTS (10)
# closed-loop clients through the in-process proxy for SEEDS_RELOC_SECONDS
# (100) s; at SEEDS_RELOC_FAULT_AT (50) s iptables cuts only the proxy's
# path to the primary (its own source address 10.200.0.254), and the proxy
# reroutes to the warm standby. SEEDS_RELOC_RUNS runs per lab-lock hold
# (3), SEEDS_RELOC_PARTS holds (2). Writes bench/results/seeds-relocation/
# run-*.json (raw: figures and per-second series) and
# bench/results/seeds-relocation.{json,md}. SEEDS_RELOC_SUMMARY=1: only the
# summary; SEEDS_RELOC_KEEP=1: keep the earlier runs' raw files.
# SEEDS_RELOC_BACKEND=cgi runs the heavy arm instead (the image's
# /cgi-bin/burn?ms=400, the service's probe-timeout 100 ms: the paper's
# WordPress case): raw files in bench/results/seeds-relocation/cgi/,
# summary bench/results/seeds-relocation-cgi.json. The markdown table shows
# both arms, each from its own JSON summary.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
OUT=${BENCH_OUT:-bench/results}
backend=${SEEDS_RELOC_BACKEND:-static}
case "$backend" in
static) RAW=$OUT/seeds-relocation SUM=$OUT/seeds-relocation.json paper_s=1.5 ;;
cgi) RAW=$OUT/seeds-relocation/cgi SUM=$OUT/seeds-relocation-cgi.json paper_s=2.08 ;;
*) echo "bench/seeds-relocation.sh: SEEDS_RELOC_BACKEND=$backend: want static or cgi" >&2; exit 2 ;;
esac
LOCK=(flock /tmp/understudy-lab.lock)
[ "${BENCH_LOCKED:-0}" = 1 ] && LOCK=()
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >&2
mkdir -p "$RAW"
RAWABS=$(cd "$RAW" && pwd)
runs=${SEEDS_RELOC_RUNS:-3} parts=${SEEDS_RELOC_PARTS:-2}
secs=${SEEDS_RELOC_SECONDS:-100} fault=${SEEDS_RELOC_FAULT_AT:-50} clients=${SEEDS_RELOC_CLIENTS:-10}
cmd="SEEDS_RELOC_BACKEND=$backend SEEDS_RELOC_RUNS=$runs SEEDS_RELOC_SECONDS=$secs SEEDS_RELOC_FAULT_AT=$fault SEEDS_RELOC_CLIENTS=$clients go test -run '^\$' -bench '^BenchmarkSeedsRelocation\$' -benchtime 1x ./e2e, $parts time(s)"
# SEEDS_RELOC_NOTE replaces the command in the summary (runs kept from
# several invocations: say which).
cmd=${SEEDS_RELOC_NOTE:-$cmd}
if [ "${SEEDS_RELOC_SUMMARY:-0}" != 1 ]; then
	bin=${SEEDS_RELOC_BIN:-} # a test binary built before the lock, else built here
	if [ -z "$bin" ]; then
		bin=$(mktemp -d)/e2e.test
		go test -c -o "$bin" ./e2e
	fi
	[ "${SEEDS_RELOC_KEEP:-0}" = 1 ] || rm -f "$RAW"/run-*.json
	for _ in $(seq 1 "$parts"); do
		(cd e2e && "${LOCK[@]}" env UNDERSTUDY_REQUIRE_LAB=1 E2E_QUIET=1 SEEDS_RELOC_OUT="$RAWABS" SEEDS_RELOC_BACKEND="$backend" \
			SEEDS_RELOC_RUNS="$runs" SEEDS_RELOC_SECONDS="$secs" SEEDS_RELOC_FAULT_AT="$fault" SEEDS_RELOC_CLIENTS="$clients" \
			"$bin" -test.run '^$' -test.bench '^BenchmarkSeedsRelocation$' -test.benchtime 1x -test.v -test.timeout 15m)
	done
fi
jq -s --argjson paper_s "$paper_s" --arg cmd "bash bench/seeds-relocation.sh ($cmd)" --arg date "$(date -u +%FT%TZ)" --arg nproc "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '
def med: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
def stat(f): [.[] | f | select(. != null)] as $v | {median: ($v|med), min: ($v|min), max: ($v|max), n: ($v|length)};
{date: $date, nproc: $nproc, load: $load, command: $cmd, runs: [.[] | del(.series)],
 relocation_s: stat(.relocation_s), errors_after: stat(.errors_after), false_reroutes: stat(.false_reroutes),
 reroutes: stat(.reroutes), incidents_during: stat(.incidents_during // (if has("last_incident") then .incidents else null end)), last_incidents: [.[] | .last_incident | select(. != null)], p99_before_ms: stat(.p99_before_ms),
 p99_fault_s_ms: stat(.p99_fault_s_ms), max_ms: stat(.max_ms), return_s: stat(.return_s), requests: stat(.requests),
 listen_overflows: stat(.listen_overflows | select(. != null and . >= 0)), host_syn_retrans: stat(.host_syn_retrans),
 dial_timeouts_cleared: stat(.dial_timeouts_cleared | select(. != null and . >= 0)),
 paper: {relocation_s: $paper_s, errors: 9}}' "$RAW"/run-*.json >"$SUM"
# The table: both arms, the heavy one where its summary exists.
cgi='{}'
[ -f "$OUT/seeds-relocation-cgi.json" ] && cgi=$(cat "$OUT/seeds-relocation-cgi.json")
jq -r --argjson c "$cgi" '
def r: . * 1000 | round / 1000;
def s(x): if x == null or x.n == 0 then "—" else "\(x.median|r) (\(x.min|r)–\(x.max|r))" end;
def ratio(x; p): if x == null or x.n == 0 then "—" else ((x.median / p)|r|tostring) end;
def n(x): if x == null then 0 else x.n end;
def row(what; pa; pb; f): "| \(what) | \(pa) | \(s(f)) | \(pb) | \(s($c | f)) | \(n(f)) + \(n($c | f)) |";
"# seeds-relocation: per-request relocation under load (FastContainer, issue 20 experiment 4)\n",
"Static arm: \(.date), nproc \(.nproc), load average \(.load); \(.runs[0].clients) closed-loop clients for \(.runs[0].seconds) s through the proxy, the proxy'"'"'s path to the primary cut at \(.runs[0].fault_at_s|round) s (iptables on its own source address; the monitor and the agent still reach the primary); backend \(.runs[0].backend); understudy reroutes to the warm standby container (`proxy-reroute: warm`), FastContainer relocated the container.\n",
"Command: `\(.command)`; per-second series in `seeds-relocation/run-*.json`.\n",
(if ($c|has("runs")) then "Heavy arm: \($c.date), nproc \($c.nproc), load average \($c.load); the same load and fault; backend \($c.runs[0].backend) (the paper'"'"'s WordPress case). Command: `\($c.command)`; per-second series in `seeds-relocation/cgi/run-*.json`.\n" else "Heavy arm: no runs in this directory (`SEEDS_RELOC_BACKEND=cgi bash bench/seeds-relocation.sh` writes them).\n" end),
"| figure | paper, static site | ours, static: median (min–max) | paper, WordPress | ours, CGI 400 ms: median (min–max) | runs (static + CGI) |", "|---|---|---|---|---|---|",
row("relocation time (fault → first answer from the standby), s"; "1.5"; "2.08"; .relocation_s),
"| ratio ours/paper, relocation time | | \(ratio(.relocation_s; 1.5)) | | \(ratio($c.relocation_s; 2.08)) | |",
row("failed requests after the fault"; "9"; "9"; .errors_after),
row("false relocations (reroutes before the fault)"; "—"; "—"; .false_reroutes),
row("reroutes in the run (want 1)"; "—"; "—"; .reroutes),
row("incidents the monitor opened during a run (want 0)"; "—"; "—"; .incidents_during),
row("p99 latency, last 10 s before the fault, ms"; "—"; "—"; .p99_before_ms),
row("p99 latency, the second after the fault, ms"; "—"; "—"; .p99_fault_s_ms),
row("slowest answer, ms"; "—"; "—"; .max_ms),
row("path restored → proxy back on the primary, s"; "—"; "—"; .return_s),
row("requests answered per run"; "—"; "—"; .requests),
row("the primary container'"'"'s TcpExt ListenOverflows per run (SYNs its httpd'"'"'s full accept queue dropped)"; "—"; "—"; .listen_overflows),
row("the host'"'"'s TcpExt TCPSynRetrans per run (every SYN resent, the proxy'"'"'s among them)"; "—"; "—"; .host_syn_retrans),
row("dial timeouts the proxy did not report (`understudy_proxy_dial_timeouts_cleared_total`)"; "—"; "—"; .dial_timeouts_cleared),
([.runs[] | select(.ended != null) | "\(.ended) (\(.loadavg))"] | if length > 0 then "\nStatic arm, each run'"'"'s end (UTC) and load average then: " + join(", ") + "." else empty end),
([($c.runs // [])[] | select(.ended != null) | "\(.ended) (\(.loadavg))"] | if length > 0 then "\nHeavy arm, each run'"'"'s end (UTC) and load average then: " + join(", ") + "." else empty end),
(if (.last_incidents|length) > 0 then "\nStatic arm, the last incident of each run that opened one (source, result, reason):\n\n" + (.last_incidents | map("- " + .) | join("\n")) else empty end),
(if (($c.last_incidents // [])|length) > 0 then "\nHeavy arm, the last incident of each run that opened one (source, result, reason):\n\n" + ($c.last_incidents | map("- " + .) | join("\n")) else empty end)
' "$OUT/seeds-relocation.json" >"$OUT/seeds-relocation.md"
cat "$OUT/seeds-relocation.md"
