package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB is the part of testing.TB the tail writer uses.
type fakeTB struct {
	testing.TB
	name     string
	failed   bool
	logged   []string
	cleanups []func()
}

func (f *fakeTB) Name() string               { return f.name }
func (f *fakeTB) Failed() bool               { return f.failed }
func (f *fakeTB) Cleanup(fn func())          { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Log(args ...any)            { f.logged = append(f.logged, fmt.Sprint(args...)) }
func (f *fakeTB) Logf(s string, args ...any) { f.logged = append(f.logged, fmt.Sprintf(s, args...)) }

func (f *fakeTB) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func writeLines(t *testing.T, w *tailWriter, n int) {
	for i := 1; i <= n; i++ {
		if _, err := fmt.Fprintf(w, "record %d\n", i); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTailWriterFailedTestGetsTheTail(t *testing.T) {
	t.Setenv("UNDERSTUDY_TEST_LOGS", t.TempDir())
	t.Setenv("UNDERSTUDY_TEST_LOG", "")
	f := &fakeTB{name: "TestX/sub"}
	w := newTailWriter(f)
	writeLines(t, w, TailLines+40)
	if len(f.logged) != 0 {
		t.Fatalf("logged before the end: %q", f.logged)
	}
	f.failed = true
	f.end()
	if len(f.logged) != TailLines+1 {
		t.Fatalf("logged %d lines, want a header and %d records", len(f.logged), TailLines)
	}
	if !strings.Contains(f.logged[0], filepath.Join(TestLogDir(), "TestX_sub.log")) {
		t.Errorf("header %q does not name the whole log", f.logged[0])
	}
	if f.logged[1] != "record 41" || f.logged[TailLines] != fmt.Sprintf("record %d", TailLines+40) {
		t.Errorf("tail runs %q … %q, want record 41 … %d", f.logged[1], f.logged[TailLines], TailLines+40)
	}
	whole, err := os.ReadFile(filepath.Join(TestLogDir(), "TestX_sub.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(whole), "\n"); n != TailLines+40 {
		t.Errorf("the whole log has %d records, want %d", n, TailLines+40)
	}
	if _, err := fmt.Fprintln(w, "late"); err != nil || len(f.logged) != TailLines+1 {
		t.Errorf("a record after the end reached the test's log (%v)", err)
	}
}

func TestTailWriterPassingTestStaysQuiet(t *testing.T) {
	t.Setenv("UNDERSTUDY_TEST_LOGS", t.TempDir())
	t.Setenv("UNDERSTUDY_TEST_LOG", "")
	f := &fakeTB{name: "TestY"}
	w := newTailWriter(f)
	writeLines(t, w, 5)
	f.end()
	if len(f.logged) != 0 {
		t.Errorf("a passing test logged %q", f.logged)
	}
}

func TestTailWriterLive(t *testing.T) {
	t.Setenv("UNDERSTUDY_TEST_LOGS", t.TempDir())
	t.Setenv("UNDERSTUDY_TEST_LOG", "all")
	f := &fakeTB{name: "TestZ", failed: true}
	w := newTailWriter(f)
	writeLines(t, w, 3)
	f.end()
	if len(f.logged) != 3 || f.logged[2] != "record 3" {
		t.Errorf("live log %q, want the 3 records as they came", f.logged)
	}
}
