package contentsync

import (
	"io"
	"io/fs"
	"time"

	"github.com/understudy/understudy/lxd"
)

// FS is one side's file system, as the copy uses it (lxd.Files implements
// it over SFTP). Paths are absolute; errors about a missing path wrap
// fs.ErrNotExist.
type FS interface {
	Lstat(p string) (lxd.FileInfo, error)
	ReadDir(p string) ([]lxd.FileInfo, error)
	Open(p string) (io.ReadCloser, error)
	Create(p string) (io.WriteCloser, error)
	Mkdir(p string) error
	Link(oldname, newname string) error
	Symlink(target, p string) error
	ReadLink(p string) (string, error)
	Rename(oldname, newname string) error
	Chtimes(p string, atime, mtime time.Time) error
	Chmod(p string, mode fs.FileMode) error
	Chown(p string, uid, gid int) error
	RemoveAll(p string) error
}

var _ FS = (*lxd.Files)(nil)
