#!/usr/bin/env bash
# bench/seeds-restore-criu.sh: issue 20's experiment 1 with understudy's arm
# in restore mode (a CRIU checkpoint of the booted container restored in the
# shared standby, a cold start where that fails) against the same VM
# restore; see bench/seeds-standby.sh (SEEDS_RESTORE_RUNS, SEEDS_RESTORE_PARTS,
# SEEDS_RESTORE_SUMMARY). Needs the lab's criu (lab.sh up builds it).
exec bash "$(dirname "$0")/seeds-standby.sh" restore-criu
