package criuprobe

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCRIUProbe runs the real probe. Where CRIU does not work (kernel 6.18
// with criu 3.17: vdso error, or no criu installed) it skips with the reason.
func TestCRIUProbe(t *testing.T) {
	st := Probe(t.Context(), "criu", 10*time.Second)
	if !st.Available {
		if st.Reason == "" {
			t.Fatal("unavailable without a reason")
		}
		t.Skipf("CRIU does not work here, restore mode falls back to cold start: %s", st.Reason)
	}
	if st.Version <= 0 || st.String() != "available" {
		t.Errorf("available CRIU reported %+v", st)
	}
}

func TestCRIUProbeMissingBinary(t *testing.T) {
	st := Probe(t.Context(), filepath.Join(t.TempDir(), "criu"), time.Second)
	if st.Available || !strings.Contains(st.String(), "unavailable: criu binary") {
		t.Errorf("missing binary: %+v", st)
	}
}

// TestCRIUWatchdogKillsHungCriu uses a "criu" that never answers: the
// watchdog must kill it and report, instead of hanging like go-criu would.
func TestCRIUWatchdogKillsHungCriu(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "criu")
	script := "#!/bin/sh\nwhile :; do sleep 0.1; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	st := Probe(t.Context(), bin, 300*time.Millisecond)
	if st.Available || !strings.Contains(st.Reason, "version check: criu did not answer in time and was killed") {
		t.Errorf("hung criu: %+v", st)
	}
	// No hung criu child is left behind.
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err == nil && strings.Contains(string(data), "(criu)") && strings.Contains(string(data), " "+strconv.Itoa(os.Getpid())+" ") {
			t.Errorf("criu child left running: %s", data)
		}
	}
}

func TestCRIULogAndVersion(t *testing.T) {
	if got := firstErrorLine("testdata/criu-dump.log"); got != "vdso: Unexpected rt vDSO area bounds" {
		t.Errorf("firstErrorLine = %q", got)
	}
	// A caller without CAP_SYS_RESOURCE: criu logs the rlimit as an error
	// and carries on; the line that says why the dump failed is the next.
	if got := firstErrorLine("testdata/criu-dump-locks.log"); !strings.HasPrefix(got, "Some file locks are hold") {
		t.Errorf("firstErrorLine = %q, want the file-lock line (the rlimit one is not fatal)", got)
	}
	if got := firstErrorLine("testdata/missing.log"); got != "" {
		t.Errorf("missing log: %q", got)
	}
	if got := versionString(31701); got != "3.17.1" {
		t.Errorf("versionString(31701) = %q", got)
	}
}
