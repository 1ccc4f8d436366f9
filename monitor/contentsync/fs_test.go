package contentsync

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/understudy/understudy/lxd"
)

// localFS is a hand-written FS over a directory of the test machine: the
// instance's "/" is root.
type localFS struct{ root string }

var _ FS = localFS{}

func (l localFS) at(p string) string { return filepath.Join(l.root, filepath.FromSlash(p)) }

func localInfo(fi os.FileInfo) lxd.FileInfo {
	out := lxd.FileInfo{Name: fi.Name(), Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.UID, out.GID = int(st.Uid), int(st.Gid)
	}
	return out
}

func (l localFS) Lstat(p string) (lxd.FileInfo, error) {
	fi, err := os.Lstat(l.at(p))
	if err != nil {
		return lxd.FileInfo{}, err
	}
	return localInfo(fi), nil
}

func (l localFS) ReadDir(p string) ([]lxd.FileInfo, error) {
	es, err := os.ReadDir(l.at(p))
	if err != nil {
		return nil, err
	}
	var out []lxd.FileInfo
	for _, e := range es {
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, localInfo(fi))
	}
	return out, nil
}

func (l localFS) Open(p string) (io.ReadCloser, error)    { return os.Open(l.at(p)) }
func (l localFS) Create(p string) (io.WriteCloser, error) { return os.Create(l.at(p)) }
func (l localFS) Mkdir(p string) error                    { return os.Mkdir(l.at(p), 0o755) }
func (l localFS) Link(o, n string) error                  { return os.Link(l.at(o), l.at(n)) }
func (l localFS) Symlink(t, p string) error               { return os.Symlink(t, l.at(p)) }
func (l localFS) ReadLink(p string) (string, error)       { return os.Readlink(l.at(p)) }
func (l localFS) Rename(o, n string) error                { return os.Rename(l.at(o), l.at(n)) }
func (l localFS) Chtimes(p string, a, m time.Time) error  { return os.Chtimes(l.at(p), a, m) }
func (l localFS) Chmod(p string, m fs.FileMode) error     { return os.Chmod(l.at(p), m) }
func (l localFS) Chown(p string, uid, gid int) error      { return os.Lchown(l.at(p), uid, gid) }
func (l localFS) RemoveAll(p string) error                { return os.RemoveAll(l.at(p)) }
