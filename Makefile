# understudy: the commands a newcomer types. Run as root on Debian/Ubuntu.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
LAB := examples/lab/lab.sh
LOCK := flock /tmp/understudy-lab.lock
BIN := bin/understudy

.PHONY: all build test test-lxd-compat unit vet lab-up lab-down lab-status demo demo-fleet demo-stop bench bench-seeds fuzz fuzz-long clean criu criu-drill deb pkg-deps

all: build

build:
	$(GO) build -o $(BIN) ./cmd/understudy

## test: bring the lab up, then vet and run every test with the race detector:
## unit tests in parallel, then the integration tests one package at a time,
## because some faults (a hypervisor's bridge going down) touch the whole lab.
## Both steps set UNDERSTUDY_REQUIRE_LAB=1: a test that cannot run here
## (no root, no lab tool) fails instead of skipping. Under the lab lock it
## first stops the daemons of a `make demo` (saying so): their monitors would
## fail web and api over when a test takes host-a's bridge down. `make demo`
## starts them again. The lab runs Incus (lab.sh's default); last comes the
## LXD 5.0 compatibility job (test-lxd-compat).
test: lab-up pkg-deps vet
	env UNDERSTUDY_REQUIRE_LAB=1 $(GO) test -race -count=1 -skip Integration ./...
	$(LOCK) bash -c 'UNDERSTUDY_LAB_LOCKED=1 bash examples/demo.sh stop && \
	  UNDERSTUDY_REQUIRE_LAB=1 $(GO) test -race -count=1 -p 1 -timeout 30m -run Integration ./...'
	$(MAKE) test-lxd-compat

## test-lxd-compat: the LXD 5.0 compatibility job, under the lab lock: the
## lab is rebuilt on LXD 5.0.2 (LAB_HYPERVISOR=lxd), the lxd package's
## integration tests, the whole-instance sync's (monitor/contentsync), one
## warm and one cold failover and the whole-instance sync's failover (e2e)
## run there, then the lab goes back to Incus (down, up) whatever the
## outcome, so that `make demo` finds it as `make lab-up` leaves it.
COMPAT_SYNC := ^TestIntegrationSyncWholeInstance
COMPAT_E2E := ^TestIntegration(Failover(Warm|Cold)|SyncWholeInstanceFailover)$$
test-lxd-compat:
	$(LOCK) bash -c 'UNDERSTUDY_LAB_LOCKED=1 bash examples/demo.sh stop && bash $(LAB) down && \
	  LAB_HYPERVISOR=lxd bash $(LAB) up && \
	  UNDERSTUDY_REQUIRE_LAB=1 $(GO) test -race -count=1 -p 1 -timeout 20m -run Integration ./lxd/ && \
	  UNDERSTUDY_REQUIRE_LAB=1 $(GO) test -race -count=1 -timeout 20m -run "$(COMPAT_SYNC)" ./monitor/contentsync/ && \
	  UNDERSTUDY_REQUIRE_LAB=1 $(GO) test -race -count=1 -timeout 20m -run "$(COMPAT_E2E)" ./e2e/; \
	  rc=$$?; bash $(LAB) down && bash $(LAB) up || rc=1; exit $$rc'

## deb: the Debian package bin/understudy_VERSION_ARCH.deb with nfpm
## (examples/packaging/: units, default config, completion, man pages).
deb: pkg-deps
	GO=$(GO) bash examples/packaging/build-deb.sh

## pkg-deps: the Debian packages the packaging tests check with (zsh, fish,
## groff, man-db, systemd-analyze); part of `test`.
pkg-deps:
	bash examples/packaging/deps.sh

## unit: the tests that need no lab (integration tests skip with their reason).
unit:
	env -u UNDERSTUDY_REQUIRE_LAB $(GO) test -race -count=1 -skip Integration ./...

vet:
	$(GO) vet ./...

lab-up:
	bash $(LAB) up

lab-down:
	bash $(LAB) down

lab-status:
	bash $(LAB) status

## criu: build a CRIU that works on kernels >= 6.13 from Debian's source
## packages, once per machine (`lab.sh up` does it too, and tries a failed
## build only once; this tries again; standby/README.md).
criu:
	bash examples/lab/criu-build.sh

## criu-drill: stateful stop and restore of a slow application on a scratch
## LXD daemon; restore against cold start, medians of 5 (standby/README.md).
criu-drill: criu
	bash examples/lab/criu-drill.sh 5

## demo: the lab, the agent, the monitor and the proxy, then a drill on web
## (warm) and one on api (cold) with their reports and charts; leaves it running.
demo: lab-up build
	DEMO_LAB_UP=0 UNDERSTUDY_BIN=$(BIN) bash examples/demo.sh

## demo-fleet: the lab and its fleet (24 services on host-a and host-b, one
## shared standby VM), the fleet's agent, monitor and proxy, then a drill of
## host-a's loss (16 services at once) with its report and chart.
demo-fleet: build
	UNDERSTUDY_BIN=$(BIN) bash examples/demo-fleet.sh

## demo-stop: stop the daemons `make demo` left running (make test does it).
demo-stop:
	$(LOCK) env UNDERSTUDY_LAB_LOCKED=1 bash examples/demo.sh stop

## bench: every figure the READMEs cite, measured again: bench/run.sh writes
## bench/results/GROUP.{json,md} (raw values, date, nproc, median and
## min-max) and takes the lab lock per group; then the HAProxy comparison.
## It first stops the daemons of a `make demo`, as `test` does, and fails
## (after writing the results) when a group's test binary failed.
bench: lab-up
	$(LOCK) env UNDERSTUDY_LAB_LOCKED=1 bash examples/demo.sh stop
	bash bench/run.sh
	bash bench/haproxy.sh   # takes the lab lock itself

## bench-seeds: the research's experiments side by side (issue 20): builds
## the full-OS image once per machine (bench/seeds-image.sh, cached under
## /var/lib/understudy-seeds), then the five seeds groups, each writing
## bench/results/seeds-*.{json,md}, and prints their tables.
bench-seeds: lab-up
	bash bench/seeds-image.sh
	bash bench/run.sh seeds-restore seeds-warm seeds-migration seeds-relocation seeds-rtt

## fuzz: a short run of every fuzz target.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s -fuzzminimizetime 1x $$pkg || exit 1; \
	  done; \
	done

## fuzz-long: every fuzz target for at least 1M executions (CPU only, no lab),
## at the lowest CPU priority; counts in bench/results/fuzz-long.{json,md}.
fuzz-long:
	nice -n 19 bash bench/fuzz-long.sh

clean:
	rm -rf bin
