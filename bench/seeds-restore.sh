#!/usr/bin/env bash
# bench/seeds-restore.sh: issue 20's experiment 1 (VCRecovery: the cold
# shared standby against the conventional cold standby, a VM restored from
# its backup), group seeds-restore; see bench/seeds-standby.sh
# (SEEDS_RESTORE_RUNS, SEEDS_RESTORE_PARTS, SEEDS_RESTORE_SUMMARY).
exec bash "$(dirname "$0")/seeds-standby.sh" restore
