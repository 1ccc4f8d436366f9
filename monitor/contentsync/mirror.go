package contentsync

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/understudy/understudy/lxd"
)

// ErrReadOnly: a write to a Mirror, which only the copy's source side uses.
var ErrReadOnly = errors.New("the mirror is read-only")

// Mirror is a local directory that holds a primary's paths at the same
// paths below Root (rsync's copy of them), read as the copy's source side.
// Its write methods fail with ErrReadOnly.
type Mirror struct{ Root string }

var _ Session = Mirror{}

func (m Mirror) local(p string) string {
	return filepath.Join(m.Root, filepath.FromSlash(path.Clean("/"+p)))
}

func mirrorInfo(fi os.FileInfo) lxd.FileInfo {
	out := lxd.FileInfo{Name: fi.Name(), Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.UID, out.GID = int(st.Uid), int(st.Gid)
	}
	return out
}

// Lstat describes p; a missing p wraps fs.ErrNotExist.
func (m Mirror) Lstat(p string) (lxd.FileInfo, error) {
	fi, err := os.Lstat(m.local(p))
	if err != nil {
		return lxd.FileInfo{}, fmt.Errorf("mirror: stat %s: %w", p, err)
	}
	return mirrorInfo(fi), nil
}

// ReadDir lists directory p.
func (m Mirror) ReadDir(p string) ([]lxd.FileInfo, error) {
	des, err := os.ReadDir(m.local(p))
	if err != nil {
		return nil, fmt.Errorf("mirror: list %s: %w", p, err)
	}
	out := make([]lxd.FileInfo, 0, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("mirror: stat %s: %w", path.Join(p, de.Name()), err)
		}
		out = append(out, mirrorInfo(fi))
	}
	return out, nil
}

// Open opens regular file p for reading.
func (m Mirror) Open(p string) (io.ReadCloser, error) {
	f, err := os.Open(m.local(p))
	if err != nil {
		return nil, fmt.Errorf("mirror: open %s: %w", p, err)
	}
	return f, nil
}

// ReadLink returns symbolic link p's target.
func (m Mirror) ReadLink(p string) (string, error) {
	t, err := os.Readlink(m.local(p))
	if err != nil {
		return "", fmt.Errorf("mirror: read link %s: %w", p, err)
	}
	return t, nil
}

// Close does nothing: the mirror stays for the next sync's delta.
func (Mirror) Close() error { return nil }

// Create fails: the mirror is read-only.
func (Mirror) Create(string) (io.WriteCloser, error) { return nil, ErrReadOnly }

// Mkdir fails: the mirror is read-only.
func (Mirror) Mkdir(string) error { return ErrReadOnly }

// Link fails: the mirror is read-only.
func (Mirror) Link(string, string) error { return ErrReadOnly }

// Symlink fails: the mirror is read-only.
func (Mirror) Symlink(string, string) error { return ErrReadOnly }

// Rename fails: the mirror is read-only.
func (Mirror) Rename(string, string) error { return ErrReadOnly }

// Chtimes fails: the mirror is read-only.
func (Mirror) Chtimes(string, time.Time, time.Time) error { return ErrReadOnly }

// Chmod fails: the mirror is read-only.
func (Mirror) Chmod(string, fs.FileMode) error { return ErrReadOnly }

// Chown fails: the mirror is read-only.
func (Mirror) Chown(string, int, int) error { return ErrReadOnly }

// RemoveAll fails: the mirror is read-only.
func (Mirror) RemoveAll(string) error { return ErrReadOnly }
