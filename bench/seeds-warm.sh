#!/usr/bin/env bash
# bench/seeds-warm.sh: issue 20's experiment 2 (VCRecovery: the warm shared
# standby against one dedicated warm standby VM per service), group
# seeds-warm; see bench/seeds-standby.sh (SEEDS_WARM_RUNS, SEEDS_WARM_PARTS,
# SEEDS_WARM_SUMMARY).
exec bash "$(dirname "$0")/seeds-standby.sh" warm
