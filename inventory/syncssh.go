package inventory

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// SyncSSH is how a sync of method rsync reaches its primary
// (services[].sync.ssh): ssh as User to the VM's address on Port with the
// private key file Key (relative paths are the inventory file's).
// KnownHosts holds the primaries' host keys; empty, the monitor keeps them
// in monitor.state-dir/sync/known_hosts, where a primary's key is recorded
// the first time and checked every time after.
type SyncSSH struct {
	User       string
	Port       int
	Key        string
	KnownHosts string
}

// SyncSSH defaults.
const (
	DefaultSyncSSHUser = "root"
	DefaultSyncSSHPort = 22
)

func (d *decoder) syncSSH(n *yaml.Node, p string, x **SyncSSH) {
	s := &SyncSSH{}
	*x = s
	d.mapping(n, p, []field{
		{"user", d.Str(&s.User)},
		{"port", d.Integer(&s.Port)},
		{"key", d.Str(&s.Key)},
		{"known-hosts", d.Str(&s.KnownHosts)},
	})
}

// defSyncSSH fills sync.ssh's defaults.
func (d *decoder) defSyncSSH(p string, s *Sync) {
	if s.Method != SyncRsync {
		return
	}
	if s.SSH == nil {
		s.SSH = &SyncSSH{}
	}
	setStr(&s.SSH.User, DefaultSyncSSHUser)
	d.defInt(yamlpos.Join(yamlpos.Join(p, "ssh"), "port"), &s.SSH.Port, DefaultSyncSSHPort)
}

// checkSyncSSH validates sync.ssh against sync.method; p is sync's path.
func (d *decoder) checkSyncSSH(p string, s *Sync) {
	sp := yamlpos.Join(p, "ssh")
	if s.Method != SyncRsync {
		if d.Has(sp) {
			d.ErrPath(sp, "only method rsync uses ssh (method is %s)", s.Method)
		}
		return
	}
	if s.SSH == nil || s.SSH.Key == "" {
		if !d.Silenced(yamlpos.Join(sp, "key")) {
			d.ErrPath(yamlpos.Join(sp, "key"), "required with method rsync: the private key file ssh logs in to the primary with")
		}
		return
	}
	d.name(yamlpos.Join(sp, "user"), s.SSH.User)
	d.intRange(yamlpos.Join(sp, "port"), s.SSH.Port, 1, 65535)
}

// checkSyncKey checks that an rsync sync's key file can be read and is
// private (ssh refuses a key others can read). It never puts the key's
// content in an error.
func checkSyncKey(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read the ssh key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return fmt.Errorf("cannot read the ssh key file: %w", err)
	case fi.IsDir():
		return fmt.Errorf("ssh key file %s is a directory", path)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("ssh key file %s has mode %04o: ssh refuses a private key its group or other users may read; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return nil
}
