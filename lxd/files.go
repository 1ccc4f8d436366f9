package lxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/pkg/sftp"
)

// Files is an open session on one instance's file system, over the
// daemon's SFTP endpoint (/1.0/instances/NAME/sftp): the daemon serves it
// for a running container inside its mount namespace and for a stopped one
// by mounting its storage, so a cold container's files are read and written
// without starting it. A VM needs its agent. Paths are absolute paths
// inside the instance. Close it when done; it is closed by itself when the
// context given to Client.Files ends, and every call after that fails.
type Files struct {
	c    *sftp.Client
	name string // "instance on daemon", for errors
	stop func() bool
}

// FileInfo is what Files reports about one path (never following a
// symbolic link).
type FileInfo struct {
	Name     string
	Mode     fs.FileMode // type and permission bits
	Size     int64
	ModTime  time.Time
	UID, GID int
}

// Files opens a session on the file system of instance name.
func (c *Client) Files(ctx context.Context, name string) (*Files, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := c.srv.GetInstanceFileSFTPConn(name)
	if err != nil {
		return nil, fmt.Errorf("open the files of instance %q on %q: %w", name, c.name, notFound(err))
	}
	sc, err := sftp.NewClientPipe(conn, conn)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("start an SFTP session on instance %q on %q: %w", name, c.name, err)
	}
	f := &Files{c: sc, name: fmt.Sprintf("instance %q on %q", name, c.name)}
	f.stop = context.AfterFunc(ctx, func() { _ = sc.Close() })
	return f, nil
}

// Close ends the session.
func (f *Files) Close() error {
	f.stop()
	err := f.c.Close()
	if errors.Is(err, os.ErrClosed) || errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		return nil
	}
	return err
}

func (f *Files) wrap(verb, p string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s in %s: %w", verb, p, f.name, err)
}

func info(fi os.FileInfo) FileInfo {
	out := FileInfo{Name: fi.Name(), Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		out.UID, out.GID = int(st.UID), int(st.GID)
	}
	return out
}

// Lstat describes p; a missing p is an error wrapping fs.ErrNotExist.
func (f *Files) Lstat(p string) (FileInfo, error) {
	fi, err := f.c.Lstat(p)
	if err != nil {
		return FileInfo{}, f.wrap("stat", p, err)
	}
	return info(fi), nil
}

// ReadDir lists directory p.
func (f *Files) ReadDir(p string) ([]FileInfo, error) {
	fis, err := f.c.ReadDir(p)
	if err != nil {
		return nil, f.wrap("list", p, err)
	}
	out := make([]FileInfo, len(fis))
	for i, fi := range fis {
		out[i] = info(fi)
	}
	return out, nil
}

// Open opens regular file p for reading.
func (f *Files) Open(p string) (io.ReadCloser, error) {
	r, err := f.c.Open(p)
	return r, f.wrap("open", p, err)
}

// Create creates (or truncates) regular file p for writing.
func (f *Files) Create(p string) (io.WriteCloser, error) {
	w, err := f.c.Create(p)
	return w, f.wrap("create", p, err)
}

// Mkdir creates directory p.
func (f *Files) Mkdir(p string) error { return f.wrap("create directory", p, f.c.Mkdir(p)) }

// Link makes newname a hard link of oldname.
func (f *Files) Link(oldname, newname string) error {
	return f.wrap("link", newname, f.c.Link(oldname, newname))
}

// Symlink makes p a symbolic link to target.
func (f *Files) Symlink(target, p string) error {
	return f.wrap("create symbolic link", p, f.c.Symlink(target, p))
}

// ReadLink reads symbolic link p.
func (f *Files) ReadLink(p string) (string, error) {
	t, err := f.c.ReadLink(p)
	return t, f.wrap("read symbolic link", p, err)
}

// Rename renames oldname to newname, replacing newname when it is a file
// (POSIX rename: one atomic step).
func (f *Files) Rename(oldname, newname string) error {
	return f.wrap("rename", oldname, f.c.PosixRename(oldname, newname))
}

// Chtimes sets p's access and modification times.
func (f *Files) Chtimes(p string, atime, mtime time.Time) error {
	return f.wrap("set the times of", p, f.c.Chtimes(p, atime, mtime))
}

// Chmod sets p's permission bits.
func (f *Files) Chmod(p string, mode fs.FileMode) error {
	return f.wrap("chmod", p, f.c.Chmod(p, mode))
}

// Chown sets p's owner and group.
func (f *Files) Chown(p string, uid, gid int) error {
	return f.wrap("chown", p, f.c.Chown(p, uid, gid))
}

// RemoveAll removes p and everything below it; a missing p is no error.
func (f *Files) RemoveAll(p string) error {
	err := f.c.RemoveAll(p)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return f.wrap("remove", p, err)
}
