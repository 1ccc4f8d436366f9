package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSecretHoldersDisableCoreDumps runs each subcommand that holds a secret
// in a child process (this test binary again) whose core limit was raised
// first, and reads the limit and the dumpable flag back after the command
// started: both must be 0. A command that holds no secret leaves them alone.
func TestSecretHoldersDisableCoreDumps(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("core dumps are disabled on Linux only")
	}
	for _, tt := range []struct {
		cmd  string
		want string
	}{
		{"dns", "core=0/0 dumpable=0"}, {"monitor", "core=0/0 dumpable=0"}, {"agent", "core=0/0 dumpable=0"},
		{"proxy", "core=0/0 dumpable=0"}, {"version", "dumpable=1"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCoreDumpChild$")
		cmd.Env = append(os.Environ(), "UNDERSTUDY_TEST_CORE_CHILD="+tt.cmd)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: child: %v\n%s", tt.cmd, err, out)
		}
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("understudy %s: child reports %q, want %q", tt.cmd, strings.TrimSpace(string(out)), tt.want)
		}
	}
}

// TestCoreDumpChild is the child of TestSecretHoldersDisableCoreDumps: it
// allows core dumps, runs the subcommand (with a flag it rejects, so it ends
// at once) and prints the core limit and the dumpable flag it then has.
func TestCoreDumpChild(t *testing.T) {
	name := os.Getenv("UNDERSTUDY_TEST_CORE_CHILD")
	if name == "" {
		t.Skip("only run as a child of TestSecretHoldersDisableCoreDumps")
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max > 0 { // allow dumps, so that a 0 afterwards is the command's doing
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_CORE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	run(context.Background(), []string{name, "--no-such-flag"}, io.Discard, io.Discard)
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		t.Fatal(err)
	}
	dumpable, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("core=%d/%d dumpable=%d\n", lim.Cur, lim.Max, dumpable)
}
