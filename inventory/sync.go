package inventory

import (
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// Sync is a service's scheduled copy of its content from the primary into
// its standby container (services[].sync; package monitor/contentsync performs it).
type Sync struct {
	// Paths are absolute directories (or files) inside the primary; each is
	// copied to the same path in the standby container.
	Paths []string
	// Every is the time between the start of two syncs.
	Every time.Duration
	// Method is how the content travels: SyncIncus or SyncRsync.
	Method string
	// SSH is how the rsync method logs in to the primary (required with
	// method rsync, refused with incus).
	SSH *SyncSSH
	// MaxRPO is the oldest a copy may be before the service's RPO counts
	// as exceeded (metric understudy_sync_rpo_exceeded, alert
	// UnderstudySyncRPOExceeded).
	MaxRPO time.Duration
}

// Sync methods.
const (
	// SyncIncus reads the files through the primary's hypervisor API and
	// writes them through the standby VM's (SFTP over the Incus/LXD API).
	SyncIncus = "incus"
	// SyncRsync is rsync over SSH from the monitor's host into a local
	// mirror (delta transfer), then into the standby as the incus method
	// writes it.
	SyncRsync = "rsync"
)

// Sync defaults.
const (
	DefaultSyncEvery  = time.Minute
	DefaultSyncMethod = SyncIncus
	// DefaultSyncMaxRPOFactor: without max-rpo, a copy older than this many
	// times every counts as exceeded.
	DefaultSyncMaxRPOFactor = 3
	// MinSyncEvery is the shortest every accepted.
	MinSyncEvery = time.Second
)

func (d *decoder) sync(n *yaml.Node, p string, x **Sync) {
	s := &Sync{}
	*x = s
	d.mapping(n, p, []field{
		{"paths", d.Strings(&s.Paths)},
		{"every", d.Duration(&s.Every)},
		{"method", d.Str(&s.Method)},
		{"max-rpo", d.Duration(&s.MaxRPO)},
		{"ssh", func(v *yaml.Node, sp string) { d.syncSSH(v, sp, &s.SSH) }},
	})
}

// SyncSSH is the SSH login of the rsync method (services[].sync.ssh).
// The key's content is never read by the inventory nor logged: ssh reads it.
type SyncSSH struct {
	// User logs in to the primary (default root).
	User string
	// Host is the primary's address for SSH (default: the VM's address).
	Host string
	// Port is the SSH port (default 22).
	Port int
	// KeyFile is the private key, mode 0600 (group and others: no access).
	KeyFile string
	// KnownHosts is the known_hosts file that holds the primary's host key;
	// the host key is always checked.
	KnownHosts string
}

// DefaultSyncSSHUser and DefaultSyncSSHPort are sync.ssh's defaults.
const (
	DefaultSyncSSHUser = "root"
	DefaultSyncSSHPort = 22
)

func (d *decoder) syncSSH(n *yaml.Node, p string, x **SyncSSH) {
	s := &SyncSSH{}
	*x = s
	d.mapping(n, p, []field{
		{"user", d.Str(&s.User)},
		{"host", d.Str(&s.Host)},
		{"port", d.Integer(&s.Port)},
		{"key-file", d.Str(&s.KeyFile)},
		{"known-hosts", d.Str(&s.KnownHosts)},
	})
}

// defSync fills services[i].sync's defaults; sp is the service's path.
func (d *decoder) defSync(sp string, s *Sync) {
	if s == nil {
		return
	}
	p := yamlpos.Join(sp, "sync")
	d.defDur(yamlpos.Join(p, "every"), &s.Every, DefaultSyncEvery)
	setStr(&s.Method, DefaultSyncMethod)
	d.defDur(yamlpos.Join(p, "max-rpo"), &s.MaxRPO, DefaultSyncMaxRPOFactor*s.Every)
	if s.SSH != nil {
		setStr(&s.SSH.User, DefaultSyncSSHUser)
		if !d.Has(yamlpos.Join(yamlpos.Join(p, "ssh"), "port")) {
			s.SSH.Port = DefaultSyncSSHPort
		}
	}
}

// checkSync validates services[i].sync; sp is the service's path.
func (d *decoder) checkSync(sp string, svc *Service) {
	s := svc.Sync
	if s == nil {
		return
	}
	p := yamlpos.Join(sp, "sync")
	if svc.Mode == ModeRestore {
		d.ErrPath(yamlpos.Join(sp, "mode"), "a service with sync cannot use mode restore: a checkpoint restores the files it was taken with; use warm or cold")
	}
	if len(s.Paths) == 0 && !d.Silenced(yamlpos.Join(p, "paths")) {
		d.ErrPath(yamlpos.Join(p, "paths"), "required: the directories to copy, such as [/var/www]")
	}
	seen := map[string]bool{}
	for i, v := range s.Paths {
		ip := yamlpos.Index(yamlpos.Join(p, "paths"), i)
		switch {
		case !path.IsAbs(v):
			d.ErrPath(ip, "%q must be an absolute path", v)
		case path.Clean(v) != v:
			d.ErrPath(ip, "%q is not clean: write %q", v, path.Clean(v))
		case v == "/":
			d.ErrPath(ip, "cannot sync the whole file system: name the directories that hold the content")
		case seen[v]:
			d.ErrPath(ip, "%q is listed twice", v)
		default:
			d.checkSyncDisk(ip, v, svc.Container.DataDisk)
		}
		seen[v] = true
	}
	if d.Has(yamlpos.Join(p, "every")) && s.Every < MinSyncEvery {
		d.ErrPath(yamlpos.Join(p, "every"), "must be at least %s, got %s", MinSyncEvery, s.Every)
	}
	if d.oneOf(yamlpos.Join(p, "method"), "method", s.Method, SyncIncus, SyncRsync) {
		d.checkSyncSSH(p, s)
		if s.Method == SyncRsync {
			// The monitor has no rsync copy yet (issue 23): refuse rather than
			// let a service believe it syncs.
			d.ErrPath(yamlpos.Join(p, "method"), "rsync is not supported yet: use incus")
		}
	}
	if d.Has(yamlpos.Join(p, "max-rpo")) && s.MaxRPO < s.Every {
		d.ErrPath(yamlpos.Join(p, "max-rpo"), "%s is shorter than every (%s): every copy would count as too old", s.MaxRPO, s.Every)
	}
}

// checkSyncSSH validates sync.ssh against the method; p is sync's path.
// The key and known-hosts files themselves are checked by checkSyncFiles.
func (d *decoder) checkSyncSSH(p string, s *Sync) {
	sp := yamlpos.Join(p, "ssh")
	switch {
	case s.Method == SyncIncus && s.SSH != nil:
		d.ErrPath(sp, "only method rsync logs in over SSH: remove ssh or set method: rsync")
		return
	case s.Method != SyncRsync:
		return
	case s.SSH == nil:
		d.ErrPath(yamlpos.Join(p, "method"), "method rsync needs ssh: {key-file: ..., known-hosts: ...}")
		return
	}
	x := s.SSH
	if d.required(yamlpos.Join(sp, "key-file"), x.KeyFile) && strings.HasPrefix(x.KeyFile, "~") {
		d.ErrPath(yamlpos.Join(sp, "key-file"), "%q: ~ is not expanded; write the absolute path", x.KeyFile)
	}
	d.required(yamlpos.Join(sp, "known-hosts"), x.KnownHosts)
	if !sshUserRE.MatchString(x.User) {
		d.ErrPath(yamlpos.Join(sp, "user"), "invalid user %q: use letters, digits, '.', '_' and '-'", x.User)
	}
	if x.Host != "" && (strings.HasPrefix(x.Host, "-") || strings.ContainsAny(x.Host, " @:/")) {
		d.ErrPath(yamlpos.Join(sp, "host"), "invalid host %q: want a host name or an IPv4 address", x.Host)
	}
	d.intRange(yamlpos.Join(sp, "port"), x.Port, 1, 65535)
}

// sshUserRE is what sync.ssh.user looks like (no option, no @).
var sshUserRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$`)

// checkSyncFiles checks the rsync method's key file (readable, a regular
// file, mode 0600 or stricter: ssh refuses others too) and known-hosts
// file (readable); their content is never shown.
func (d *decoder) checkSyncFiles(inv *Inventory) {
	for i, s := range inv.Services {
		if s.Sync == nil || s.Sync.SSH == nil || s.Sync.Method != SyncRsync {
			continue
		}
		sp := yamlpos.Join(yamlpos.Join(yamlpos.Index("services", i), "sync"), "ssh")
		x := s.Sync.SSH
		if x.KeyFile != "" {
			fi, err := os.Stat(x.KeyFile)
			switch {
			case err != nil:
				d.ErrPath(yamlpos.Join(sp, "key-file"), "cannot read the SSH key file: %v", err)
			case !fi.Mode().IsRegular():
				d.ErrPath(yamlpos.Join(sp, "key-file"), "SSH key file %s is not a regular file", x.KeyFile)
			case fi.Mode().Perm()&0o077 != 0:
				d.ErrPath(yamlpos.Join(sp, "key-file"), "SSH key file %s has mode %04o: its group or other users may read it; make it private: chmod 600 %s", x.KeyFile, fi.Mode().Perm(), x.KeyFile)
			}
		}
		if x.KnownHosts != "" {
			if f, err := os.Open(x.KnownHosts); err != nil {
				d.ErrPath(yamlpos.Join(sp, "known-hosts"), "cannot read the known-hosts file: %v", err)
			} else {
				f.Close()
			}
		}
	}
}

// checkSyncDisk refuses a sync path v (at ip) that overlaps the service's
// shared data disk: the standby already sees that disk, and copying into it
// would write the primary's live data.
func (d *decoder) checkSyncDisk(ip, v string, disk *DataDisk) {
	if disk == nil || !path.IsAbs(disk.Path) {
		return
	}
	dp := path.Clean(disk.Path)
	switch {
	case v == dp:
		d.ErrPath(ip, "%q is the shared data disk's path (container.data-disk.path): the standby already mounts it; do not sync it", v)
	case pathWithin(v, dp):
		d.ErrPath(ip, "%q is inside the shared data disk (container.data-disk.path %q): the standby already mounts it; do not sync it", v, dp)
	case pathWithin(dp, v):
		d.ErrPath(ip, "%q contains the shared data disk (container.data-disk.path %q): sync the directories beside it instead", v, dp)
	}
}

// pathWithin reports whether clean absolute path p is strictly below dir.
func pathWithin(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}
