package labtest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TailLines is how many of a failed test's last log records Logger puts in
// the test's log.
const TailLines = 60

// TestLogDir is where Logger keeps every test's whole log:
// $UNDERSTUDY_TEST_LOGS, or understudy-test-logs under the temporary
// directory.
func TestLogDir() string {
	if d := os.Getenv("UNDERSTUDY_TEST_LOGS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "understudy-test-logs")
}

// tailWriter writes log lines to a file and keeps the last TailLines of
// them, which it hands to the test's log when the test failed. It never
// calls t.Log after the test ended (a goroutine still stopping may log).
type tailWriter struct {
	t    testing.TB
	live bool

	mu   sync.Mutex
	file *os.File
	path string
	ring []string
	next int
	done bool
}

func newTailWriter(t testing.TB) *tailWriter {
	w := &tailWriter{t: t, live: os.Getenv("UNDERSTUDY_TEST_LOG") == "all"}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".log"
	if err := os.MkdirAll(TestLogDir(), 0o750); err == nil {
		w.path = filepath.Join(TestLogDir(), name)
		w.file = openTestLog(w.path) // without a file, the tail is all there is
	}
	t.Cleanup(w.flush)
	return w
}

// Write keeps one record (slog writes one record per call).
func (w *tailWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file != nil {
		_, _ = w.file.Write(p) // best effort: the tail still has the record
	}
	if w.done {
		return len(p), nil
	}
	if w.live {
		w.t.Log(line)
		return len(p), nil
	}
	if len(w.ring) < TailLines {
		w.ring = append(w.ring, line)
	} else {
		w.ring[w.next] = line
		w.next = (w.next + 1) % TailLines
	}
	return len(p), nil
}

// started holds the log files this process has truncated: a test's later
// loggers, and its later runs (-count), append to them.
var started sync.Map

// openTestLog opens path for appending, emptied the first time this
// process opens it, or returns nil.
func openTestLog(path string) *os.File {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if _, seen := started.LoadOrStore(path, true); !seen {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		return nil
	}
	return f
}

// flush runs when the test ends: a failed test gets the tail of its log.
func (w *tailWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.file != nil {
		w.file.Close()
		w.file = nil
	}
	if w.live || !w.t.Failed() {
		return
	}
	w.t.Logf("the last %d log records (the whole log: %s):", len(w.ring), w.path)
	for i := range w.ring {
		w.t.Log(w.ring[(w.next+i)%len(w.ring)])
	}
}
