package monitor

import (
	"fmt"

	"github.com/understudy/understudy/inventory"
)

// Reload replaces the inventory in force with inv, which the caller loaded
// and validated (inventory.Load). Everything derived from it (recover's
// service configurations, playbooks, the monitor's targets, agent clients,
// the DNS client) is built first; if any of it fails, Reload returns the
// error and the running configuration stays as it was. Open incidents keep
// their playbook. Settings read only at start (monitor.listen,
// monitor.state-dir, monitor.etcd, monitor.api-tls) are logged when they
// changed and need a restart.
func (c *Controller) Reload(inv *inventory.Inventory) error {
	old := c.plan()
	if err := c.apply(inv); err != nil {
		c.metrics.reloads.WithLabelValues("refused").Inc()
		return fmt.Errorf("reload refused, the running inventory stays: %w", err)
	}
	c.metrics.reloads.WithLabelValues("applied").Inc()
	if o, n := old.Inv.Monitor, inv.Monitor; o.Listen != n.Listen || o.StateDir != n.StateDir || fmt.Sprint(o.Etcd) != fmt.Sprint(n.Etcd) || o.APITLS != n.APITLS {
		c.log.Warn("monitor.listen, monitor.state-dir, monitor.etcd and monitor.api-tls apply only after a restart (rotated certificate files are read without one)")
	}
	if old.Inv.Migration.MaxParallel != inv.Migration.MaxParallel {
		c.log.Warn("migration.max-parallel applies from the next leadership term (a restart of the leading monitor)")
	}
	p := c.plan()
	// The monitor is always told (the channel is buffered): a reload that
	// lands while Run is starting must not leave it on the old targets.
	c.super.Reload()
	c.syncServices() // no-ops while following: a new term reads the plan
	c.preparer().Poke()
	c.log.Info("inventory reloaded", "file", inv.File(), "services", len(p.Services))
	return nil
}
