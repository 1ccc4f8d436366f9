package contentsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/understudy/understudy/lxd"
)

// Stats is what one sync of one path (or of a service, summed) did.
type Stats struct {
	Files   int   // regular files in the copy
	Bytes   int64 // their total size
	Changed int   // files read from the primary (new or changed)
	Sent    int64 // bytes read from the primary
	Skipped int   // entries that are neither file, directory nor symbolic link (devices, sockets)
	Swapped bool  // the live copy was replaced; false: it was already the same
}

func (s *Stats) add(o Stats) {
	s.Files += o.Files
	s.Bytes += o.Bytes
	s.Changed += o.Changed
	s.Sent += o.Sent
	s.Skipped += o.Skipped
	s.Swapped = s.Swapped || o.Swapped
}

// copyOptions are the hooks of one copy.
type copyOptions struct {
	// Read wraps every reader of a primary's file (the bandwidth cap, the
	// gate); nil: none.
	Read func(io.Reader) io.Reader
	// Check is asked before each entry and right before the swap (the
	// gate): an error stops the sync and leaves the live copy as it was.
	Check func() error
	// Swap, when set, is called when the swap begins (after the last
	// Check): from then on the sync's cancellation does not cut the
	// standby's writes until done is called; an error: do not swap.
	Swap func() (done func(), err error)
}

// The staging names beside a path p: its new copy while it is built, and
// the old copy between the two renames of the swap.
func stageNew(p string) string { return path.Join(path.Dir(p), ".understudy-sync-new."+path.Base(p)) }
func stageOld(p string) string { return path.Join(path.Dir(p), ".understudy-sync-old."+path.Base(p)) }

// ErrSourceMissing: a path to sync does not exist on the primary; the
// standby's copy is left alone (an empty primary is more likely a mistake
// than content to delete).
var ErrSourceMissing = errors.New("path missing on the primary")

// copyPath makes p on dst what p is on src. It first finishes what an
// interrupted earlier sync left (recoverLive). A directory that exists on
// both sides is synced in place (syncDir): the directory itself stays, so
// a server whose working directory it is (busybox httpd -h) serves the new
// content. Anything else is built beside p and renamed over it.
func copyPath(ctx context.Context, src, dst FS, p string, o copyOptions) (Stats, error) {
	si, err := src.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Stats{}, fmt.Errorf("%s: %w", p, ErrSourceMissing)
	}
	if err != nil {
		return Stats{}, err
	}
	live, err := recoverLive(dst, p)
	if err != nil {
		return Stats{}, err
	}
	c := &copier{ctx: ctx, src: src, dst: dst, read: o.Read, check: o.Check, swap: o.Swap}
	if live != nil && live.Mode.IsDir() && si.Mode.IsDir() {
		return c.syncDir(p, si, *live)
	}
	same, st, err := c.same(p, si, p, live)
	if err != nil || same {
		return st, err
	}
	if err := mkdirAll(dst, path.Dir(p)); err != nil {
		return Stats{}, err
	}
	stage := stageNew(p)
	if err := dst.RemoveAll(stage); err != nil {
		return Stats{}, err
	}
	st, err = c.build(p, si, p, live, stage)
	var done func()
	if err == nil {
		done, err = c.beginSwap()
	}
	if err != nil {
		_ = dst.RemoveAll(stage) // best effort: the next sync removes it too
		return st, err
	}
	defer done()
	if live != nil && live.Mode.IsDir() { // a directory replaced by a file or link
		if err := dst.RemoveAll(p); err != nil {
			return st, err
		}
	}
	if err := dst.Rename(stage, p); err != nil {
		return st, fmt.Errorf("swap in the new copy: %w", err)
	}
	st.Swapped = true
	return st, nil
}

// syncDir syncs directory p in place. The children that differ are built
// in the staging directory beside p (unchanged files hard-linked from the
// live copy); only when all of them are built, and the check passes, does
// the swap begin: the old-copy directory beside p is created (it marks the
// swap begun), then each differing child moves from p to it and its new
// version from the stage into p, each in one rename, and children the
// primary no longer has move out too. A sync killed while it builds leaves
// p as it was; one killed during the swap (a few renames) is finished by
// the next sync before it does anything else (rollForward).
func (c *copier) syncDir(p string, si, li lxd.FileInfo) (Stats, error) {
	var st Stats
	stage := stageNew(p)
	if err := c.dst.RemoveAll(stage); err != nil {
		return st, err
	}
	ses, err := c.src.ReadDir(p)
	if err != nil {
		return st, err
	}
	les, err := c.dst.ReadDir(p)
	if err != nil {
		return st, err
	}
	live := index(les)
	var changed []string
	fail := func(err error) (Stats, error) {
		_ = c.dst.RemoveAll(stage) // best effort: the next sync removes it too
		return st, err
	}
	for _, se := range ses {
		sp := path.Join(p, se.Name)
		var lc *lxd.FileInfo
		if le, ok := live[se.Name]; ok {
			lc = &le
		}
		same, sub, err := c.same(sp, se, sp, lc)
		if err != nil {
			return fail(err)
		}
		if same {
			st.add(sub)
			continue
		}
		if len(changed) == 0 {
			if err := c.dst.Mkdir(stage); err != nil {
				return fail(err)
			}
		}
		sub, err = c.build(sp, se, sp, lc, path.Join(stage, se.Name))
		st.add(sub)
		if err != nil {
			return fail(err)
		}
		changed = append(changed, se.Name)
	}
	src := index(ses)
	var gone []string
	for _, le := range les {
		if _, ok := src[le.Name]; !ok {
			gone = append(gone, le.Name)
		}
	}
	attrs := !sameDir(si, li)
	if len(changed) == 0 && len(gone) == 0 && !attrs {
		return st, nil
	}
	done, err := c.beginSwap()
	if err != nil {
		return fail(err)
	}
	defer done()
	old := stageOld(p)
	if err := c.dst.Mkdir(old); err != nil {
		return fail(fmt.Errorf("begin the swap: %w", err))
	}
	for _, name := range changed {
		if err := swapChild(c.dst, p, name, live); err != nil {
			return st, err
		}
	}
	for _, name := range gone {
		if err := c.dst.Rename(path.Join(p, name), path.Join(old, name)); err != nil {
			return st, fmt.Errorf("swap: %w", err)
		}
	}
	if attrs {
		if err := c.attrs(p, si); err != nil {
			return st, err
		}
	}
	st.Swapped = true
	if err := c.dst.RemoveAll(old); err != nil {
		return st, err
	}
	return st, c.dst.RemoveAll(stage)
}

// swapChild moves p/name to the old-copy directory (when live has it) and
// the staged p/name into its place.
func swapChild(dst FS, p, name string, live map[string]lxd.FileInfo) error {
	if _, ok := live[name]; ok {
		if err := dst.Rename(path.Join(p, name), path.Join(stageOld(p), name)); err != nil {
			return fmt.Errorf("swap: %w", err)
		}
	}
	if err := dst.Rename(path.Join(stageNew(p), name), path.Join(p, name)); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	return nil
}

// recoverLive finishes what an interrupted sync left beside p and returns
// p's info on dst, nil when p does not exist there. An old-copy directory
// beside p means a swap began (the stage was complete): it is finished
// (rollForward). A stage without it is a copy cut while it was built: the
// sync that follows removes it.
func recoverLive(dst FS, p string) (*lxd.FileInfo, error) {
	li, err := dst.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, dst.RemoveAll(stageOld(p))
	}
	if err != nil {
		return nil, err
	}
	if _, err := dst.Lstat(stageOld(p)); err == nil && li.Mode.IsDir() {
		if err := rollForward(dst, p); err != nil {
			return nil, fmt.Errorf("finish an interrupted swap: %w", err)
		}
	}
	if err := dst.RemoveAll(stageOld(p)); err != nil {
		return nil, err
	}
	return &li, nil
}

// rollForward finishes a swap into directory p: every child still in the
// stage moves in (its old version out first, unless that already moved).
func rollForward(dst FS, p string) error {
	staged, err := dst.ReadDir(stageNew(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	les, err := dst.ReadDir(p)
	if err != nil {
		return err
	}
	live := index(les)
	for _, e := range staged {
		if err := swapChild(dst, p, e.Name, live); err != nil {
			return err
		}
	}
	return dst.RemoveAll(stageNew(p))
}

// mkdirAll creates directory p and its parents on fsys.
func mkdirAll(fsys FS, p string) error {
	fi, err := fsys.Lstat(p)
	if err == nil {
		if !fi.Mode.IsDir() {
			return fmt.Errorf("%s is not a directory", p)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) || p == "/" {
		return err
	}
	if err := mkdirAll(fsys, path.Dir(p)); err != nil {
		return err
	}
	return fsys.Mkdir(p)
}

// copier walks one path of one sync.
type copier struct {
	ctx      context.Context
	src, dst FS
	read     func(io.Reader) io.Reader
	check    func() error
	swap     func() (func(), error)
}

// beginSwap is the last check before a swap and begins it (copyOptions.Swap);
// done ends it.
func (c *copier) beginSwap() (done func(), err error) {
	if err := c.checked(); err != nil {
		return nil, err
	}
	if c.swap == nil {
		return func() {}, nil
	}
	return c.swap()
}

// checked is nil while the copy may go on: ctx lasts and the check passes.
func (c *copier) checked() error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if c.check != nil {
		return c.check()
	}
	return nil
}

// sameFile: size, modification time to the second (what SFTP carries),
// type and permission bits, owner.
func sameFile(a, b lxd.FileInfo) bool {
	return a.Mode == b.Mode && a.Size == b.Size && a.ModTime.Unix() == b.ModTime.Unix() && a.UID == b.UID && a.GID == b.GID
}

// sameDir: type, permission bits, owner.
func sameDir(a, b lxd.FileInfo) bool { return a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID }

// same compares sp on src with lp on dst (li: its info, nil when missing),
// and counts the files when they are the same.
func (c *copier) same(sp string, si lxd.FileInfo, lp string, li *lxd.FileInfo) (bool, Stats, error) {
	var st Stats
	if err := c.checked(); err != nil {
		return false, st, err
	}
	if li == nil {
		return false, st, nil
	}
	switch {
	case si.Mode.IsRegular():
		st.Files, st.Bytes = 1, si.Size
		return sameFile(si, *li), st, nil
	case si.Mode&fs.ModeSymlink != 0:
		if li.Mode&fs.ModeSymlink == 0 {
			return false, st, nil
		}
		a, err := c.src.ReadLink(sp)
		if err != nil {
			return false, st, err
		}
		b, err := c.dst.ReadLink(lp)
		return err == nil && a == b, st, err
	case si.Mode.IsDir():
		if !sameDir(si, *li) {
			return false, st, nil
		}
		ses, err := c.src.ReadDir(sp)
		if err != nil {
			return false, st, err
		}
		les, err := c.dst.ReadDir(lp)
		if err != nil {
			return false, st, err
		}
		if len(ses) != len(les) {
			return false, st, nil
		}
		byName := index(les)
		for _, se := range ses {
			le, ok := byName[se.Name]
			if !ok {
				return false, st, nil
			}
			same, sub, err := c.same(path.Join(sp, se.Name), se, path.Join(lp, se.Name), &le)
			st.add(sub)
			if err != nil || !same {
				return false, st, err
			}
		}
		return true, st, nil
	default:
		st.Skipped = 1
		return true, st, nil
	}
}

func index(es []lxd.FileInfo) map[string]lxd.FileInfo {
	m := make(map[string]lxd.FileInfo, len(es))
	for _, e := range es {
		m[e.Name] = e
	}
	return m
}

// build makes np on dst a copy of sp on src, hard-linking what is the same
// in the live copy lp (li: its info, nil when missing).
func (c *copier) build(sp string, si lxd.FileInfo, lp string, li *lxd.FileInfo, np string) (Stats, error) {
	var st Stats
	if err := c.checked(); err != nil {
		return st, err
	}
	switch {
	case si.Mode.IsRegular():
		st.Files, st.Bytes = 1, si.Size
		if li != nil && sameFile(si, *li) {
			if err := c.dst.Link(lp, np); err == nil {
				return st, nil
			}
			// No hard links there: copy it instead.
		}
		n, err := c.copyFile(sp, si, np)
		st.Changed, st.Sent = 1, n
		return st, err
	case si.Mode&fs.ModeSymlink != 0:
		t, err := c.src.ReadLink(sp)
		if err != nil {
			return st, err
		}
		return st, c.dst.Symlink(t, np)
	case si.Mode.IsDir():
		if err := c.dst.Mkdir(np); err != nil {
			return st, err
		}
		ses, err := c.src.ReadDir(sp)
		if err != nil {
			return st, err
		}
		var live map[string]lxd.FileInfo
		if li != nil && li.Mode.IsDir() {
			les, err := c.dst.ReadDir(lp)
			if err != nil {
				return st, err
			}
			live = index(les)
		}
		for _, se := range ses {
			var lc *lxd.FileInfo
			if le, ok := live[se.Name]; ok {
				lc = &le
			}
			sub, err := c.build(path.Join(sp, se.Name), se, path.Join(lp, se.Name), lc, path.Join(np, se.Name))
			st.add(sub)
			if err != nil {
				return st, err
			}
		}
		return st, c.attrs(np, si)
	default:
		st.Skipped = 1
		return st, nil
	}
}

// copyFile copies regular file sp from src to np on dst with its
// attributes, and returns the bytes read.
func (c *copier) copyFile(sp string, si lxd.FileInfo, np string) (int64, error) {
	r, err := c.src.Open(sp)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	w, err := c.dst.Create(np)
	if err != nil {
		return 0, err
	}
	var in io.Reader = r
	if c.read != nil {
		in = c.read(r)
	}
	n, err := io.Copy(w, in)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("copy %s: %w", sp, err)
	}
	if err := c.attrs(np, si); err != nil {
		return n, err
	}
	return n, c.dst.Chtimes(np, si.ModTime, si.ModTime)
}

// attrs gives np si's owner and permission bits.
func (c *copier) attrs(np string, si lxd.FileInfo) error {
	if err := c.dst.Chown(np, si.UID, si.GID); err != nil {
		return err
	}
	return c.dst.Chmod(np, si.Mode.Perm()|si.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}
