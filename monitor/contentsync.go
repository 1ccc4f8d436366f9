package monitor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/contentsync"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// The daemon's side of the content sync (package contentsync): which
// services sync, how both sides are opened, and the gate.

// newSyncer returns the runner of the services' content syncs; each term
// runs it (term.go) and its statuses outlive the terms.
func (c *Controller) newSyncer() *contentsync.Runner {
	return contentsync.New(contentsync.Config{
		Targets:   c.syncTargets,
		Open:      syncOpener{c},
		Instances: syncInstances{c},
		Stagings:  syncInstances{c},
		Gate:      syncGate{c},
		Limiter:   c.bandwidth,
		Tick:      c.opts.SyncTick,
		Clock:     c.opts.Clock,
		Logger:    c.opts.Logger,
	})
}

// bandwidth returns the one bandwidth cap that the migrations' copies
// and the content syncs share, at the migration.bandwidth of the
// inventory in force.
func (c *Controller) bandwidth() *lxd.Limiter {
	c.bw.SetRate(c.plan().Inv.Migration.Bandwidth)
	return c.bw
}

// runSyncs runs the content syncs for one term, sharing its executor's
// migration slots.
func (c *Controller) runSyncs(exec *executor.Executor) func(context.Context) {
	return func(ctx context.Context) { c.syncer.Run(ctx, exec) }
}

// stopSyncOn stops the running sync of a service whose record leaves
// the primary or opens an incident, and waits until it returned (a swap it
// began finishes first): the executor saves the record before it acts and
// calls this on its service's goroutine, so nothing writes the standby
// once it is activated (the gate refuses new syncs too).
func (c *Controller) stopSyncOn(rec recover.Record) {
	var reason string
	switch {
	case rec.Incident.Open():
		reason = "incident " + rec.Incident.ID + " opened"
	case rec.State != recover.Primary:
		reason = "service is " + rec.State.String()
	default:
		return
	}
	if err := c.syncer.Stop(rec.Service, reason); err != nil {
		c.log.Error("the standby may still be written while it is activated", "service", rec.Service, "err", err)
	}
}

// syncTargets lists the services of the inventory in force with a sync.
func (c *Controller) syncTargets() []contentsync.Target {
	var out []contentsync.Target
	for _, s := range c.plan().Inv.Services {
		if s.Sync == nil {
			continue
		}
		out = append(out, contentsync.Target{Service: s.Name, Paths: s.Sync.Paths, WholeInstance: s.Sync.WholeInstance,
			Standby: s.Standby, Every: s.Sync.Every, MaxRPO: s.Sync.MaxRPO})
	}
	return out
}

// copyAge is the executor's Config.CopyAge: a service with a sync that no
// sync has reached yet gets a zero SyncedAt (served from its image).
func (c *Controller) copyAge(service string, at time.Time) *recover.CopyAge {
	if ca := c.syncer.CopyAge(service, at); ca != nil {
		return ca
	}
	if s := c.plan().Inv.Service(service); s != nil && s.Sync != nil {
		return &recover.CopyAge{MaxRPO: s.Sync.MaxRPO}
	}
	return nil
}

// syncGate opens only for a service on its primary with nothing wrong:
// no incident open (so its standby is not active, and its primary is
// neither failing over nor fenced), no failure the probes confirmed or a
// proxy reported that is still open (suspect), and while this monitor
// leads.
type syncGate struct{ c *Controller }

func (g syncGate) MaySync(service string) error {
	t := g.c.roles.leading()
	if t == nil {
		return errors.New("this monitor does not lead")
	}
	for _, rec := range t.exec.Records() {
		if rec.Service != service {
			continue
		}
		switch {
		case rec.State != recover.Primary:
			return fmt.Errorf("service is %s (its standby may serve)", rec.State)
		case rec.Incident.Open():
			return fmt.Errorf("incident %s is open", rec.Incident.ID)
		}
		if _, open := g.c.findings.List(); open != nil {
			if fd, ok := open[service]; ok {
				return fmt.Errorf("primary suspect: %s", fd.Reason)
			}
		}
		return nil
	}
	return fmt.Errorf("service %q is unknown", service)
}

// syncOpener opens the primary instance through its hypervisor's client
// and the standby container through the standby VM's Incus (the
// migrator's clients: standby[].incus).
type syncOpener struct{ c *Controller }

// filer is what opens an instance's files: *lxd.Client.
type filer interface {
	Files(ctx context.Context, name string) (*lxd.Files, error)
}

// standbyFiler is what opens a standby container's files: *migrate.LXD.
type standbyFiler interface {
	StandbyFiles(ctx context.Context, standby, name string) (*lxd.Files, error)
}

func (o syncOpener) Primary(ctx context.Context, service string) (contentsync.Session, error) {
	inv := o.c.plan().Inv
	s := inv.Service(service)
	if s == nil {
		return nil, fmt.Errorf("service %q is not in the inventory", service)
	}
	vm := inv.VM(s.VM)
	if vm == nil {
		return nil, fmt.Errorf("VM %q is not in the inventory", s.VM)
	}
	if s.Sync != nil && s.Sync.Method == inventory.SyncRsync {
		return o.rsync(inv, s, vm).Pull(ctx, s.Sync.Paths)
	}
	hv, err := o.c.conns.Hypervisor(ctx, vm.Hypervisor)
	if err != nil {
		return nil, err
	}
	f, ok := hv.(filer)
	if !ok {
		return nil, fmt.Errorf("hypervisor %q: its client (%T) has no file access", vm.Hypervisor, hv)
	}
	return f.Files(ctx, vm.Instance)
}

// rsync is how method rsync pulls s's paths from its VM: over ssh into
// the service's mirror under monitor.state-dir/sync/mirror, the primaries'
// host keys in monitor.state-dir/sync/known_hosts unless sync.ssh says.
func (o syncOpener) rsync(inv *inventory.Inventory, s *inventory.Service, vm *inventory.VM) contentsync.Rsync {
	dir := filepath.Join(inv.Monitor.StateDir, "sync")
	ssh := s.Sync.SSH
	known := ssh.KnownHosts
	if known == "" {
		known = filepath.Join(dir, "known_hosts")
	}
	return contentsync.Rsync{User: ssh.User, Host: vm.Address, Port: ssh.Port, Key: ssh.Key, KnownHosts: known,
		Mirror: filepath.Join(dir, "mirror", s.Name), Limiter: o.c.bandwidth(), Logger: o.c.log}
}

func (o syncOpener) Standby(ctx context.Context, service string) (contentsync.Session, error) {
	s := o.c.plan().Inv.Service(service)
	if s == nil {
		return nil, fmt.Errorf("service %q is not in the inventory", service)
	}
	f, ok := o.c.mig.(standbyFiler)
	if !ok {
		return nil, fmt.Errorf("the migrator (%T) has no access to standby %q's files", o.c.mig, s.Standby)
	}
	// The standby agent names the container after the service.
	return f.StandbyFiles(ctx, s.Standby, service)
}

// syncStatus is service's sync for GET /v1/status; nil without one, and
// while this monitor does not lead (its statuses stopped when its term
// did: the leader's are the ones in force).
func (c *Controller) syncStatus(service string) *api.SyncStatus {
	if c.roles.leading() == nil {
		return nil
	}
	st, ok := c.syncer.Status(service)
	if !ok {
		return nil
	}
	now := c.opts.Clock.Now()
	out := &api.SyncStatus{LastGood: st.LastGood, MaxRPOMS: ms(st.MaxRPO), Exceeded: st.Exceeded(now),
		LastError: st.LastError, Blocked: st.Blocked, Running: st.Running, LastTry: st.LastTry}
	if age, ok := st.Age(now); ok {
		out.AgeMS, out.TookMS = ms(age), ms(st.Took)
		out.Files, out.Bytes, out.Changed, out.SentBytes = st.Stats.Files, st.Stats.Bytes, st.Stats.Changed, st.Stats.Sent
	}
	return out
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
