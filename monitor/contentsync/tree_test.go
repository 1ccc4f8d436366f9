package contentsync

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// world is a primary's and a standby's file system in two temporary
// directories.
type world struct {
	t        *testing.T
	src, dst localFS
}

func newWorld(t *testing.T) *world {
	return &world{t: t, src: localFS{t.TempDir()}, dst: localFS{t.TempDir()}}
}

// write writes content to p on fsys, with a modification time that does
// not depend on when the test runs.
func (w *world) write(fsys localFS, p, content string, mtime time.Time) {
	w.t.Helper()
	full := fsys.at(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Chtimes(full, mtime, mtime); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) read(fsys localFS, p string) string {
	w.t.Helper()
	b, err := os.ReadFile(fsys.at(p))
	if err != nil {
		w.t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

// tree lists every path below p on fsys with its content ("dir/" for a
// directory, "-> target" for a symbolic link).
func (w *world) tree(fsys localFS, p string) string {
	w.t.Helper()
	var out []string
	root := fsys.at(p)
	err := filepath.Walk(root, func(f string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, f)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			t, _ := os.Readlink(f)
			out = append(out, rel+" -> "+t)
		case fi.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(f)
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// siblings lists what lies beside p on fsys (the staging names).
func (w *world) siblings(fsys localFS, p string) []string {
	w.t.Helper()
	es, err := os.ReadDir(fsys.at(filepath.Dir(p)))
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (w *world) sync(o copyOptions) Stats {
	w.t.Helper()
	st, err := copyPath(context.Background(), w.src, w.dst, "/var/www", o)
	if err != nil {
		w.t.Fatalf("copyPath: %v", err)
	}
	return st
}

func TestCopyIsIncremental(t *testing.T) {
	w := newWorld(t)
	w.write(w.src, "/var/www/index.html", "new index", t0)
	w.write(w.src, "/var/www/a/b.txt", strings.Repeat("b", 1000), t0)
	if err := os.Symlink("index.html", w.src.at("/var/www/home.html")); err != nil {
		t.Fatal(err)
	}
	w.write(w.dst, "/var/www/index.html", "old index", t0.Add(-time.Hour))
	w.write(w.dst, "/var/www/gone.txt", "deleted on the primary", t0)

	st := w.sync(copyOptions{})
	if got, want := w.tree(w.dst, "/var/www"), w.tree(w.src, "/var/www"); got != want {
		t.Fatalf("standby after the first sync:\n%s\nwant the primary's:\n%s", got, want)
	}
	if !st.Swapped || st.Files != 2 || st.Changed != 2 || st.Sent != int64(len("new index")+1000) {
		t.Errorf("first sync = %+v, want swapped, 2 files, 2 changed, %d bytes sent", st, len("new index")+1000)
	}

	st = w.sync(copyOptions{})
	if st.Swapped || st.Changed != 0 || st.Sent != 0 || st.Files != 2 || st.Bytes != int64(len("new index")+1000) {
		t.Errorf("sync without a change = %+v, want nothing swapped or sent, 2 files counted", st)
	}

	w.write(w.src, "/var/www/index.html", "newer index", t0.Add(time.Minute))
	st = w.sync(copyOptions{})
	if !st.Swapped || st.Changed != 1 || st.Sent != int64(len("newer index")) {
		t.Errorf("sync of one changed file = %+v, want swapped, 1 changed, %d bytes sent", st, len("newer index"))
	}
	if got := w.read(w.dst, "/var/www/index.html"); got != "newer index" {
		t.Errorf("standby index = %q, want the primary's", got)
	}
	if got := w.siblings(w.dst, "/var/www"); len(got) != 1 || got[0] != "www" {
		t.Errorf("beside the copy: %q, want only www (no staging left)", got)
	}
}

// A copy that fails half-way (the read breaks), or that the gate stops at
// the commit, leaves the live copy as it was, and nothing beside it.
func TestFailedCopyKeepsTheLastGoodOne(t *testing.T) {
	errCut := errors.New("cut")
	// closing is a gate that closes once the copy read a primary's file.
	closing := func() copyOptions {
		closed := false
		return copyOptions{
			Read: func(r io.Reader) io.Reader { closed = true; return r },
			Check: func() error {
				if closed {
					return errCut
				}
				return nil
			},
		}
	}
	for _, c := range []struct {
		name string
		o    copyOptions
	}{
		{"read breaks", copyOptions{Read: func(r io.Reader) io.Reader { return &failAfter{r: r, n: 3, err: errCut} }}},
		{"gate closes mid-copy", closing()},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.write(w.src, "/var/www/index.html", "v1", t0)
			w.sync(copyOptions{})
			before := w.tree(w.dst, "/var/www")
			w.write(w.src, "/var/www/index.html", "v2 is longer", t0.Add(time.Minute))
			w.write(w.src, "/var/www/new.html", "new", t0)
			_, err := copyPath(context.Background(), w.src, w.dst, "/var/www", c.o)
			if !errors.Is(err, errCut) {
				t.Fatalf("copyPath = %v, want the cut", err)
			}
			if got := w.tree(w.dst, "/var/www"); got != before {
				t.Errorf("standby after a failed sync: %s, want the last good copy %s", got, before)
			}
			if got := w.siblings(w.dst, "/var/www"); len(got) != 1 {
				t.Errorf("beside the copy: %q, want only www", got)
			}
			w.sync(copyOptions{})
			if got := w.read(w.dst, "/var/www/index.html"); got != "v2 is longer" {
				t.Errorf("after the next sync: %q, want v2", got)
			}
		})
	}
}

// cutFS is a standby whose renames fail from the n-th on (the monitor
// killed during a swap).
type cutFS struct {
	localFS
	n *int
}

func (c cutFS) Rename(o, n string) error {
	if *c.n--; *c.n <= 0 {
		return errors.New("killed during the swap")
	}
	return c.localFS.Rename(o, n)
}

// A swap cut half-way (the monitor died between its renames) is finished
// by the next sync before anything else: the old-copy directory says the
// stage was complete.
func TestInterruptedSwapIsFinished(t *testing.T) {
	w := newWorld(t)
	for _, f := range []string{"a", "b", "c"} {
		w.write(w.dst, "/var/www/"+f+".html", "old "+f, t0)
		w.write(w.src, "/var/www/"+f+".html", "new "+f+" longer", t0.Add(time.Minute))
	}
	w.write(w.dst, "/var/www/gone.html", "gone", t0)
	n := 3 // a moves out and in; b moves out; then the kill
	_, err := copyPath(context.Background(), w.src, cutFS{w.dst, &n}, "/var/www", copyOptions{})
	if err == nil || !strings.Contains(err.Error(), "killed during the swap") {
		t.Fatalf("copyPath = %v, want the kill", err)
	}
	live, err := recoverLive(w.dst, "/var/www")
	if err != nil || live == nil {
		t.Fatalf("recoverLive = %v, %v", live, err)
	}
	for _, f := range []string{"a", "b", "c"} {
		if got := w.read(w.dst, "/var/www/"+f+".html"); got != "new "+f+" longer" {
			t.Errorf("%s after the roll-forward = %q, want the new copy", f, got)
		}
	}
	w.sync(copyOptions{})
	if got, want := w.tree(w.dst, "/var/www"), w.tree(w.src, "/var/www"); got != want {
		t.Errorf("after the next sync: %s, want %s", got, want)
	}
	if got := w.siblings(w.dst, "/var/www"); len(got) != 1 {
		t.Errorf("beside the copy: %q, want only www", got)
	}
}

// A directory synced in place keeps its inode: a server whose working
// directory it is sees the new files.
func TestDirectoryStaysInPlace(t *testing.T) {
	w := newWorld(t)
	w.write(w.dst, "/var/www/index.html", "old", t0)
	w.write(w.src, "/var/www/index.html", "new one", t0.Add(time.Minute))
	w.write(w.src, "/var/www/sub/x.html", "x", t0)
	before, err := os.Stat(w.dst.at("/var/www"))
	if err != nil {
		t.Fatal(err)
	}
	w.sync(copyOptions{})
	after, err := os.Stat(w.dst.at("/var/www"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the synced directory was replaced, not updated in place")
	}
	if got := w.read(w.dst, "/var/www/sub/x.html"); got != "x" {
		t.Errorf("sub/x.html = %q", got)
	}
}

func TestMissingSourceLeavesTheCopy(t *testing.T) {
	w := newWorld(t)
	w.write(w.dst, "/var/www/index.html", "v1", t0)
	_, err := copyPath(context.Background(), w.src, w.dst, "/var/www", copyOptions{})
	if !errors.Is(err, ErrSourceMissing) {
		t.Fatalf("copyPath = %v, want ErrSourceMissing", err)
	}
	if got := w.read(w.dst, "/var/www/index.html"); got != "v1" {
		t.Errorf("standby: %q, want v1 kept", got)
	}
}

func TestSingleFileAndMissingParents(t *testing.T) {
	w := newWorld(t)
	w.write(w.src, "/etc/app/app.conf", "k=v", t0)
	st, err := copyPath(context.Background(), w.src, w.dst, "/etc/app/app.conf", copyOptions{})
	if err != nil || !st.Swapped || st.Changed != 1 {
		t.Fatalf("copyPath = %+v, %v, want one file copied", st, err)
	}
	if got := w.read(w.dst, "/etc/app/app.conf"); got != "k=v" {
		t.Errorf("standby: %q", got)
	}
}

// failAfter returns err once n bytes were read.
type failAfter struct {
	r   io.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}
