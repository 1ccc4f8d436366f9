#!/usr/bin/env bash
# bench/fuzz-long.sh: every fuzz target of the module for at least
# FUZZ_EXECS executions (default 1000000), one target at a time, with
# -fuzzminimizetime 1x so the time goes to new inputs. CPU only, no lab.
#
# Writes bench/results/fuzz-long.json (one object per target: package,
# target, executions, elapsed, result) and bench/results/fuzz-long.md (the
# same as a table, with the date, nproc and the Go version). The raw go test
# output of each target is kept in bench/results/fuzz-long.log. Exits 1 if a
# target failed; its crasher is then under the package's testdata/fuzz/.
#
#   make fuzz-long                       # or: nice -n 19 bash bench/fuzz-long.sh
#   FUZZ_EXECS=20000x FUZZ_ONLY=FuzzParseKey FUZZ_OUT=/tmp/fz bash bench/fuzz-long.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
GO=${GO:-go}
execs=${FUZZ_EXECS:-1000000}
execs=${execs%x}
only=${FUZZ_ONLY:-.}
out=${FUZZ_OUT:-bench/results}
mkdir -p "$out"
json=$out/fuzz-long.json md=$out/fuzz-long.md log=$out/fuzz-long.log
: >"$log"
rows=() objs=() failed=0
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# write_results rewrites the JSON and the table with the targets so far, so
# an interrupted run still leaves its counts.
write_results() {
	{
		printf '{"started":"%s","finished":"%s","complete":%s,"nproc":%s,"go":"%s","min_executions":%s,"targets":[' \
			"$started" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$(nproc)" "$($GO env GOVERSION)" "$execs"
		(IFS=,; printf '%s' "${objs[*]}")
		printf ']}\n'
	} >"$json"
	{
		echo "# make fuzz-long"
		echo
		echo "Started $started, last update $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ "$1" = true ] || echo ' (run not finished)'); nproc $(nproc); $($GO env GOVERSION);"
		echo "at least $execs executions per target, \`-fuzzminimizetime 1x\`. Raw: \`fuzz-long.json\`, \`fuzz-long.log\`."
		echo
		echo "| package | target | executions | seconds | per second | result |"
		echo "|---|---|---:|---:|---:|---|"
		printf '%s\n' "${rows[@]}"
	} >"$md"
}

for pkg in $($GO list ./...); do
	for target in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$only" || true); do
		echo "== $pkg $target ($execs executions)" | tee -a "$log"
		t0=$(date +%s.%N)
		result=ok
		# go test's default 10 m timeout applies to fuzzing too: -timeout 0.
		if ! $GO test -timeout 0 -run '^$' -fuzz "^${target}\$" -fuzztime "${execs}x" -fuzzminimizetime 1x "$pkg" >>"$log" 2>&1; then
			result=FAIL failed=1
		fi
		t1=$(date +%s.%N)
		res=$(awk -v h="== $pkg $target " 'index($0, h) == 1 { p = 1 } p' "$log")
		# The last progress line carries the total: "fuzz: elapsed: 3m2s, execs: 1000000 (5493/sec), ..."
		n=$(printf '%s\n' "$res" | sed -nE 's/^fuzz: elapsed: [^,]+, execs: ([0-9]+) .*/\1/p' | tail -1)
		n=${n:-0}
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
		rate=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", (s > 0 ? n/s : 0)}')
		[ "$n" -ge "$execs" ] || [ "$result" = FAIL ] || result="short"
		echo "   $result: $n executions in ${secs}s" | tee -a "$log"
		objs+=("$(printf '{"package":"%s","target":"%s","executions":%s,"elapsed_s":%s,"execs_per_s":%s,"result":"%s"}' \
			"$pkg" "$target" "$n" "$secs" "$rate" "$result")")
		rows+=("| \`${pkg#github.com/understudy/understudy/}\` | \`$target\` | $n | $secs | $rate | $result |")
		[ "$result" = ok ] || failed=1
		write_results false
	done
done
write_results true

cat "$md"
exit $failed
