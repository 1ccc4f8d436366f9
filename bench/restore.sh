#!/usr/bin/env bash
# bench/restore.sh: restore mode against a cold start of the same slow
# application, and live migration against stop-copy-start, on a scratch
# daemon of examples/lab/criu-drill.sh (not the shared lab: its standby
# daemon keeps Debian 12's criu, which fails on kernels >= 6.13).
#
#   sudo bash bench/restore.sh            (LAB_HYPERVISOR=incus|lxd, default incus)
#   bash bench/restore.sh --summarize     only write restore-KIND.md again from the raw results
#   sudo bash bench/restore.sh --live     only step 4 again (restore-live-KIND.tsv, .env), then the summary
#
# Steps, each writing its raw results under bench/results/ (BENCH_OUT):
#   1. examples/lab/criu-build.sh: criu 4.2.1 from Debian's source, once per machine;
#   2. TestIntegrationRestoreDrill (standby): a restore-mode and a cold-mode
#      slow service (environment.SLOW=1), each failed over 5 times through
#      the proxy by a real agent; raw lines in restore-KIND.log/.tsv (run, mode,
#      agent's activation ms, ms from the activation request to the first
#      answer through the proxy, count, warmed-up at (ms), restored);
#   3. criu-drill.sh 5: stateful stop and start by the daemon's CLI
#      (restore-criu-drill-KIND.tsv: run, kind, ms, answer);
#   4. criu-drill.sh live 5: a live move (the daemon's live migration), a
#      checkpoint-move (stateful stop, copy with the checkpoint, stateful
#      start: what lxd.Client.Copy does for a live copy) and a
#      stop-move-start between two scratch daemons, downtime as the longest
#      gap between answers of a poller every 50 ms (restore-live-KIND.tsv:
#      run, kind, move ms, gap ms, answer before, answer after; its date in
#      restore-live-KIND.env);
# and restore-KIND.md, the medians. The scratch daemons are removed at the
# end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
HV=${LAB_HYPERVISOR:-incus}
export LAB_HYPERVISOR=$HV
OUT=${BENCH_OUT:-bench/results}
CRIU_DIR=${UNDERSTUDY_CRIU_DIR:-/var/lib/understudy-criu}
mkdir -p "$OUT"
SUMMARIZE=0
[ "${1:-}" = --summarize ] && SUMMARIZE=1
LIVE_ONLY=0
[ "${1:-}" = --live ] && LIVE_ONLY=1

# run_all runs the steps (above) and writes the raw results.
run_all() {
[ "$(id -u)" = 0 ] || { echo "bench/restore.sh: run as root" >&2; exit 1; }
bash examples/lab/criu-build.sh >/dev/null
bash examples/lab/criu-drill.sh start >/dev/null
[ "${KEEP:-0}" = 1 ] || trap 'bash examples/lab/criu-drill.sh stop >/dev/null 2>&1 || true' EXIT
criu_version=$("$CRIU_DIR/bin/criu" --version | awk '/^Version/ {print $2}')
started=$(date -u +%FT%TZ)

echo "== restore drill through the proxy ($HV)" >&2
UNDERSTUDY_CRIU_SCRATCH=$HV go test -count=1 -v -timeout 20m -run '^TestIntegrationRestoreDrill$' ./standby/ \
	>"$OUT/restore-$HV.log" 2>&1 || { tail -n 20 "$OUT/restore-$HV.log" >&2; exit 1; }
awk -F'\t' '$1 == "restore-drill" {OFS = "\t"; $1 = ""; sub(/^\t/, ""); print}' "$OUT/restore-$HV.log" >"$OUT/restore-$HV.tsv"

echo "== criu-drill.sh 5 ($HV)" >&2
KEEP=1 bash examples/lab/criu-drill.sh 5 >&2
cp "$CRIU_DIR/drill-$HV.tsv" "$OUT/restore-criu-drill-$HV.tsv"
echo "== criu-drill.sh live 5 ($HV)" >&2
KEEP=1 bash examples/lab/criu-drill.sh live 5 >&2
cp "$CRIU_DIR/live-$HV.tsv" "$OUT/restore-live-$HV.tsv"
echo "$criu_version $started $(nproc) $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/restore-$HV.env"
}

# median FILE KEYCOL KEY VALCOL: "median (min–max, n)" of VALCOL where KEYCOL is KEY.
median() {
	awk -F'\t' -v kc="$2" -v k="$3" -v vc="$4" '$kc == k {print $vc}' "$1" | sort -n |
		awk '{v[NR] = $1} END {if (NR) printf "%d ms (%d–%d, n=%d)", v[int((NR + 1) / 2)], v[1], v[NR], NR; else printf "none"}'
}

# run_live runs step 4 only.
run_live() {
	[ "$(id -u)" = 0 ] || { echo "bench/restore.sh: run as root" >&2; exit 1; }
	bash examples/lab/criu-build.sh >/dev/null
	local started
	started=$(date -u +%FT%TZ)
	echo "== criu-drill.sh live 5 ($HV)" >&2
	KEEP=1 bash examples/lab/criu-drill.sh live 5 >&2
	cp "$CRIU_DIR/live-$HV.tsv" "$OUT/restore-live-$HV.tsv"
	echo "$started $(nproc) $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/restore-live-$HV.env"
}

if [ "$LIVE_ONLY" = 1 ]; then
	run_live
elif [ "$SUMMARIZE" = 0 ]; then
	run_all
	echo "$(date -u +%FT%TZ) $(nproc) $(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/restore-live-$HV.env"
fi
read -r criu_version started ncpu load1 load5 load15 <"$OUT/restore-$HV.env"
{
	echo "# Restore mode and live migration ($HV, criu $criu_version)"
	echo
	echo "\`sudo LAB_HYPERVISOR=$HV bash bench/restore.sh\`, $started, $ncpu CPUs, load $load1 $load5 $load15 (at the end), kernel $(uname -r)."
	echo "Raw results: \`restore-$HV.tsv\` (from \`restore-$HV.log\`), \`restore-criu-drill-$HV.tsv\`, \`restore-live-$HV.tsv\`. Medians (min–max, n)."
	echo
	echo "## A slow service (2 s warm-up) failed over through the proxy by the agent"
	echo
	echo "| mode | activation (agent) | activation request to first answer through the proxy |"
	echo "|---|---|---|"
	for m in restore cold; do
		echo "| $m | $(median "$OUT/restore-$HV.tsv" 2 "$m" 3) | $(median "$OUT/restore-$HV.tsv" 2 "$m" 4) |"
	done
	echo
	awk -F'\t' '$2 == "restore" {w[$6] = 1; n++} END {c = 0; for (k in w) c++; printf "State: all %d restores answered count 1 with the warm-up time of the one checkpoint (%d distinct value), taken at prepare before the activation began; every cold start warmed up anew.\n", n, c}' "$OUT/restore-$HV.tsv"
	echo
	echo "## The daemon's own stateful stop and start (criu-drill.sh)"
	echo
	echo "| step | median |"
	echo "|---|---|"
	for k in cold checkpoint restore; do
		echo "| $k | $(median "$OUT/restore-criu-drill-$HV.tsv" 2 "$k" 3) |"
	done
	echo
	echo "## Live move against stop-move-start (downtime: longest gap between answers, poller every 50 ms)"
	echo
	if [ -s "$OUT/restore-live-$HV.env" ]; then
		read -r lstarted lncpu ll1 ll5 ll15 <"$OUT/restore-live-$HV.env"
		echo "Measured $lstarted ($lncpu CPUs, load $ll1 $ll5 $ll15 at the end; \`sudo bash bench/restore.sh --live\`). live: the daemon's own live migration (\`incus move\` of a running container); checkpoint-move: stateful stop, copy with the checkpoint, stateful start, the way \`lxd.Client.Copy\` makes a live copy now; stop-start: stop, move, start (the 2 s warm-up included)."
		echo
	fi
	echo "| kind | downtime | the move commands | state |"
	echo "|---|---|---|---|"
	for k in live checkpoint-move stop-start; do
		grep -q "	$k	" "$OUT/restore-live-$HV.tsv" || continue
		state=$(awk -F'\t' -v k="$k" '$2 == k {if ($6 + 0 > $5 + 0) kept++; n++} END {printf "%d of %d carried the counter on", kept, n}' "$OUT/restore-live-$HV.tsv")
		echo "| $k | $(median "$OUT/restore-live-$HV.tsv" 2 "$k" 4) | $(median "$OUT/restore-live-$HV.tsv" 2 "$k" 3) | $state |"
	done
	echo
	echo "VCRecovery (the research behind the migration) paid 5.4–9.0 s of downtime."
} >"$OUT/restore-$HV.md"
cat "$OUT/restore-$HV.md"
