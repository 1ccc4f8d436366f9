package inventory

import (
	"path"
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
	// WholeInstance copies the primary instance as a whole instead of
	// Paths (YAML whole-instance; exclusive with paths): an incremental
	// copy (Incus --refresh) into a staging instance on the standby VM,
	// swapped in while the standby container is stopped, so cold services
	// only.
	WholeInstance bool
	// Every is the time between the start of two syncs.
	Every time.Duration
	// Method is how the content travels: SyncIncus.
	Method string
	// MaxRPO is the oldest a copy may be before the service's RPO counts
	// as exceeded (metric understudy_sync_rpo_exceeded, alert
	// UnderstudySyncRPOExceeded).
	MaxRPO time.Duration
	// SSH is how method rsync logs in to the primary (nil for incus).
	SSH *SyncSSH
}

// Sync methods.
const (
	// SyncIncus reads the files through the primary's hypervisor API and
	// writes them through the standby VM's (SFTP over the Incus/LXD API).
	SyncIncus = "incus"
	// SyncRsync is rsync over SSH from the primary VM into a mirror on the
	// monitor (delta transfer), then the same staged copy into the standby
	// through the standby VM's API.
	SyncRsync = "rsync"
)

// The instances a whole-instance sync keeps on the standby VM beside the
// standby container (named after the service): the staging copy it
// refreshes, and the name the container has for a moment during a swap.
const (
	SyncStagingSuffix = "-sync"
	SyncSwapSuffix    = "-swapping"
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
		{"whole-instance", d.Boolean(&s.WholeInstance)},
		{"every", d.Duration(&s.Every)},
		{"method", d.Str(&s.Method)},
		{"max-rpo", d.Duration(&s.MaxRPO)},
		{"ssh", func(v *yaml.Node, p string) { d.syncSSH(v, p, &s.SSH) }},
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
}

// checkSync validates services[i].sync; sp is the service's path.
func (d *decoder) checkSync(sp string, svc *Service, inv *Inventory) {
	s := svc.Sync
	if s == nil {
		return
	}
	p := yamlpos.Join(sp, "sync")
	if svc.Mode == ModeRestore {
		d.ErrPath(yamlpos.Join(sp, "mode"), "a service with sync cannot use mode restore: a checkpoint restores the files it was taken with; use warm or cold")
	}
	d.checkWholeInstance(sp, svc, inv)
	if len(s.Paths) == 0 && !s.WholeInstance && !d.Silenced(yamlpos.Join(p, "paths")) {
		d.ErrPath(yamlpos.Join(p, "paths"), "required: the directories to copy, such as [/var/www] (or whole-instance: true)")
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
	}
	if d.Has(yamlpos.Join(p, "max-rpo")) && s.MaxRPO < s.Every {
		d.ErrPath(yamlpos.Join(p, "max-rpo"), "%s is shorter than every (%s): every copy would count as too old", s.MaxRPO, s.Every)
	}
}

// checkWholeInstance validates services[i].sync.whole-instance: exclusive
// with paths, and only for a cold service. A whole-instance sync swaps the
// standby container for its refreshed staging copy, which needs the
// container stopped; a warm standby's container runs, and stopping it for
// every sync would leave the service without its ready standby meanwhile
// (and restore mode has its own checkpoint of the files).
func (d *decoder) checkWholeInstance(sp string, svc *Service, inv *Inventory) {
	s := svc.Sync
	wp := yamlpos.Join(yamlpos.Join(sp, "sync"), "whole-instance")
	if !s.WholeInstance {
		return
	}
	if len(s.Paths) > 0 {
		d.ErrPath(wp, "cannot be combined with paths: the whole instance already holds them; write one of the two")
	}
	if s.Method == SyncRsync {
		d.ErrPath(wp, "cannot be combined with method rsync: a whole-instance sync is Incus's incremental copy between the two hypervisors; rsync copies paths")
	}
	if svc.Mode != ModeCold {
		d.ErrPath(wp, "needs mode cold, the service's mode is %s: the refreshed copy is swapped in while the standby container is stopped, and a %s standby's container is not; sync paths instead", svc.Mode, svc.Mode)
	}
	staging, aside := svc.Name+SyncStagingSuffix, svc.Name+SyncSwapSuffix
	if len(aside) > 63 {
		d.ErrPath(wp, "the service's name is too long for a whole-instance sync: its container is renamed %q during the swap, over Incus's 63 characters", aside)
	}
	for _, other := range []string{staging, aside} {
		if inv.Service(other) != nil {
			d.ErrPath(wp, "service %q is named like this service's staging instances (%q, %q): rename one of them", other, staging, aside)
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
