#!/usr/bin/env bash
# bench/statuspage.sh: the status page's screenshot, taken again.
#
#   bash bench/statuspage.sh
#
# Runs TestIntegrationStatusPageChromium (monitor/statuspage: the page in
# headless Chromium over the monitor's mutual TLS, a vm-stop drill on
# t-statuspage-a, t-statuspage-b staying on its primary) under the lab lock
# and keeps what it writes:
#   bench/results/statuspage.png  the full-page screenshot after the drill
#   bench/results/statuspage.log  the test's verbose output (the lag from
#                                 the DNS flip to the page's change)
# Needs root and the lab (`make lab-up`); BENCH_LOCKED=1 when the caller
# holds /tmp/understudy-lab.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
OUT=${BENCH_OUT:-bench/results}
mkdir -p "$OUT"
OUTABS=$(cd "$OUT" && pwd)
LOCK=(flock /tmp/understudy-lab.lock)
if [ "${BENCH_LOCKED:-0}" = 1 ]; then
	LOCK=()
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/statuspage.test" ./monitor/statuspage/
go build -o "$bin/understudy" ./cmd/understudy
"${LOCK[@]}" bash -c '
	bash examples/lab/lab.sh up >"$1/statuspage.lab.log" 2>&1
	cd monitor/statuspage
	UNDERSTUDY_REQUIRE_LAB=1 UNDERSTUDY_BIN="$2/understudy" STATUSPAGE_SHOT="$1/statuspage.png" \
		"$2/statuspage.test" -test.run "^TestIntegrationStatusPageChromium$" -test.count 1 -test.v -test.timeout 10m
' _ "$OUTABS" "$bin" 2>&1 | tee "$OUT/statuspage.log" || status=$?
rm -f "$OUT/statuspage.lab.log"
exit "${status:-0}"
