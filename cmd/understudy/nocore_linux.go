package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// disableCoreDumps keeps the secrets a daemon holds in memory (the TSIG
// secret, TLS private keys) out of core files and away from ptrace by other
// users: the core size limit becomes 0 (soft and hard, so a child cannot
// raise it) and the process is marked not dumpable (PR_SET_DUMPABLE 0),
// which also covers a kernel core_pattern pipe that ignores the limit.
func disableCoreDumps() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("disable core dumps: set RLIMIT_CORE to 0: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("disable core dumps: prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
