// Package e2e holds understudy's end-to-end tests and benchmarks: each builds
// its own small world in the lab (primary containers on host-a, DNS records
// in the lab's BIND, or in its Knot DNS or PowerDNS for
// TestIntegrationFailoverKnot and TestIntegrationFailoverPowerDNS, a
// standby agent in-process against standby-1, an
// inventory) and runs the monitor daemon (package monitor) in-process
// against it, then breaks a primary and checks that the service answers at
// its name from the standby. The HA tests (ha_test.go) run three monitors
// over a real three-member etcd in the test process (package ha/hatest) and
// kill, or cut off from etcd, the leader in the middle of an incident.
//
// Lab names and addresses it owns: instances and DNS names t-e2e-*, primaries
// on host-a at 10.200.0.160-169 (one per test; .168 the HA kill tests, .169
// the HA partition test; the Knot and PowerDNS failovers reuse .160 and .161,
// tests of a package run one after the other; .190-.191 and spare copies
// 10.200.2.190-191 the relocation under load, loadmove_test.go), standby
// containers from its own agent's pool 10.200.1.150-169. Its agents measure
// their load from their instances' cgroups (load-source: cgroups; the
// standby declares 1 CPU, the spare 2). The seeds benchmarks of issue 20
// (seeds_test.go: BenchmarkSeedsRestore, BenchmarkSeedsWarm; seedsmig_test.go:
// BenchmarkSeedsMigration) are measurements that bench/seeds-*.sh run with
// -benchtime 1x: t-seeds-*, full-OS primaries of image understudy-debian on
// host-a at 10.200.0.100-109 (HACKING.md).
//
// The package has no code besides its tests. They need the lab
// (examples/lab/lab.sh up) and root (ICMP); without the lab they skip, or
// fail when UNDERSTUDY_REQUIRE_LAB=1. Run them one at a time per machine:
//
//	flock /tmp/understudy-lab.lock go test -race -run Integration ./e2e
//	flock /tmp/understudy-lab.lock go test -run '^$' -bench Failover -benchtime 10x ./e2e
package e2e
