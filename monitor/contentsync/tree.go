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
}

// The staging names beside a path p: its new copy while it is built, and
// the old copy between the two renames of the swap.
func stageNew(p string) string { return path.Join(path.Dir(p), ".understudy-sync-new."+path.Base(p)) }
func stageOld(p string) string { return path.Join(path.Dir(p), ".understudy-sync-old."+path.Base(p)) }

// ErrSourceMissing: a path to sync does not exist on the primary; the
// standby's copy is left alone (an empty primary is more likely a mistake
// than content to delete).
var ErrSourceMissing = errors.New("path missing on the primary")

// copyPath makes p on dst what p is on src: it recovers what an
// interrupted earlier sync left, compares both trees, and when they differ
// builds the new copy beside the live one and swaps it in.
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
	c := &copier{ctx: ctx, src: src, dst: dst, read: o.Read, check: o.Check}
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
	if err == nil {
		err = c.checked()
	}
	if err != nil {
		_ = dst.RemoveAll(stage) // best effort: the next sync removes it too
		return st, err
	}
	if err := swap(dst, p, stage, live != nil && live.Mode.IsDir()); err != nil {
		return st, err
	}
	st.Swapped = true
	return st, nil
}

// recoverLive undoes what an interrupted sync left beside p: a swap cut
// between its two renames (p missing, its old copy there) is rolled back,
// and the old copy of a finished swap is removed. It returns p's info on
// dst, nil when p does not exist there.
func recoverLive(dst FS, p string) (*lxd.FileInfo, error) {
	li, err := dst.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if _, oerr := dst.Lstat(stageOld(p)); oerr == nil {
			if err := dst.Rename(stageOld(p), p); err != nil {
				return nil, fmt.Errorf("roll back an interrupted swap: %w", err)
			}
			li, err = dst.Lstat(p)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := dst.RemoveAll(stageOld(p)); err != nil {
		return nil, err
	}
	return &li, nil
}

// swap puts stage in p's place: a file in one rename; a directory in two
// (p to its old name, stage to p), then the old copy goes.
func swap(dst FS, p, stage string, liveDir bool) error {
	if liveDir {
		if err := dst.Rename(p, stageOld(p)); err != nil {
			return fmt.Errorf("swap in the new copy: %w", err)
		}
		if err := dst.Rename(stage, p); err != nil {
			if rerr := dst.Rename(stageOld(p), p); rerr != nil {
				return fmt.Errorf("swap in the new copy: %w (and restoring the old one: %v)", err, rerr)
			}
			return fmt.Errorf("swap in the new copy: %w", err)
		}
		return dst.RemoveAll(stageOld(p))
	}
	if err := dst.RemoveAll(p); err != nil { // a file is replaced by the rename; anything else is not
		if li, lerr := dst.Lstat(p); lerr == nil && li.Mode.IsDir() {
			return err
		}
	}
	if err := dst.Rename(stage, p); err != nil {
		return fmt.Errorf("swap in the new copy: %w", err)
	}
	return nil
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
