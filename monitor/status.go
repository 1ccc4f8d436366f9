package monitor

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/recover"
)

// Status returns the monitors and the status of every configured service,
// sorted by name. The leader reports its executor's records; a follower
// reads them from the shared store.
func (a viewsAPI) Status(ctx context.Context) api.Status {
	c := a.c
	out := api.Status{Time: c.opts.Clock.Now(), Monitor: c.name, Monitors: []api.MonitorStatus{}, Services: []api.ServiceStatus{}}
	if !c.running() {
		return out
	}
	out.Epoch = c.roles.epoch()
	out.Monitors = c.monitors(ctx)
	out.VMs = c.vmStatus()
	p := c.plan()
	records, err := c.records(ctx)
	if err != nil {
		out.Error = err.Error()
	}
	for _, rec := range records {
		s := api.ServiceStatus{
			Service: rec.Service, State: rec.State.String(), Where: rec.Placement.Where,
			Host: rec.Placement.Host, Since: rec.Placement.Since,
			LastIncident: api.Incident(rec.Incident), Incidents: rec.Seq, DampedUntil: rec.DampedUntil,
		}
		if rec.Placement.Address.IsValid() {
			s.Address = rec.Placement.Address.String()
		}
		if why, ok := unprotected(rec); ok {
			s.Unprotected = why
		}
		if s.Where == "" { // never saved: on its primary
			cfg := p.Services[rec.Service]
			s.Where, s.Host, s.Address = recover.AtPrimary, cfg.Service.VM, cfg.Service.Address.String()
		}
		st := c.preparer().Get(rec.Service)
		s.Standby = api.StandbyStatus{Name: p.Standbys[rec.Service], Prepared: st.OK, Address: st.Address, At: st.At, Error: st.Err, Note: st.Skipped}
		out.Services = append(out.Services, s)
	}
	return out
}

// records returns the last saved record of every configured service: the
// executor's while leading, else the store's (a service without one is on
// its primary).
func (c *Controller) records(ctx context.Context) ([]recover.Record, error) {
	if t := c.roles.leading(); t != nil {
		return t.exec.Records(), nil
	}
	stored, err := c.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load records: %w", err)
	}
	return c.plan().Records(stored), nil
}

// monitors lists the monitors that campaign, the leader first.
func (c *Controller) monitors(ctx context.Context) []api.MonitorStatus {
	if c.elector == nil {
		t := c.roles.leading()
		m := api.MonitorStatus{Name: c.name, Leader: t != nil}
		if c.addr != nil {
			m.Address = c.addr.String()
		}
		if t != nil {
			m.Since, m.Epoch = t.since, t.epoch
		}
		return []api.MonitorStatus{m}
	}
	mons, err := c.elector.Monitors(ctx)
	if err != nil {
		c.log.Warn("list monitors", "err", err)
		return []api.MonitorStatus{}
	}
	out := make([]api.MonitorStatus, 0, len(mons))
	for i, m := range mons {
		ms := api.MonitorStatus{Name: m.Name, Address: m.Address, Leader: i == 0, Since: m.Since}
		if i == 0 {
			ms.Epoch = uint64(m.Rev)
		}
		out = append(out, ms)
	}
	return out
}

// vmStatus lists the standby VMs and spares with their last samples.
func (c *Controller) vmStatus() []api.VMStatus {
	return capacity.VMs(c.plan().Inv, c.vms, c.spareCap)
}
