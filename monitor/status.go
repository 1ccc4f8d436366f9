package monitor

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/understudy/understudy/recover"
)

// Status is the body of GET /v1/status.
type Status struct {
	Epoch uint64    `json:"epoch"`
	Time  time.Time `json:"time"`
	// Monitor is the monitor that answered; Monitors are all that campaign,
	// the leader first (one entry, leading, without an election).
	Monitor  string          `json:"monitor"`
	Monitors []MonitorStatus `json:"monitors"`
	// VMs are the standby VMs and spares with their last capacity samples
	// (taken by the leader).
	VMs      []VMStatus      `json:"vms"`
	Services []ServiceStatus `json:"services"`
	// Error says why part of the status is missing (a follower that cannot
	// read the store).
	Error string `json:"error,omitempty"`
}

// MonitorStatus is one monitor in GET /v1/status.
type MonitorStatus struct {
	Name    string    `json:"name"`
	Address string    `json:"address,omitempty"`
	Leader  bool      `json:"leader"`
	Since   time.Time `json:"since,omitzero"` // when it started leading
	Epoch   uint64    `json:"epoch,omitempty"`
}

// ServiceStatus is one service in GET /v1/status.
type ServiceStatus struct {
	Service string    `json:"service"`
	State   string    `json:"state"`   // primary, suspect, failing-over, on-standby, stuck, ...
	Where   string    `json:"where"`   // primary, standby or spare
	Host    string    `json:"host"`    // the VM it runs on now
	Address string    `json:"address"` // the address clients are sent to
	Since   time.Time `json:"since,omitzero"`
	Standby Standby   `json:"standby"`
	// Incidents is how many incidents the service has had.
	Incidents int `json:"incidents"`
	// LastIncident is the open incident, or the last closed one.
	LastIncident *IncidentStatus `json:"last_incident,omitempty"`
}

// Standby is the state of the service's container on its standby agent, as
// far as the controller prepared it.
type Standby struct {
	Name     string    `json:"name"`
	Prepared bool      `json:"prepared"`
	Address  string    `json:"address,omitempty"` // static address from the agent's pool
	At       time.Time `json:"at,omitzero"`       // of the last prepare attempt
	Error    string    `json:"error,omitempty"`
	Note     string    `json:"note,omitempty"` // why it is left alone
}

// IncidentStatus summarizes one incident with its timings in milliseconds.
type IncidentStatus struct {
	ID     string    `json:"id"`
	Open   bool      `json:"open"`
	Result string    `json:"result,omitempty"`
	Source string    `json:"source"` // of the trigger that opened it
	Reason string    `json:"reason"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Opened time.Time `json:"opened"`
	Closed time.Time `json:"closed,omitzero"`
	// TotalMS is from the first phase (detected) to the last one reached.
	TotalMS   float64              `json:"total_ms"`
	Phases    []PhaseStatus        `json:"phases"`
	Steps     []StepStatus         `json:"steps"`
	Agent     []recover.AgentPhase `json:"agent_phases,omitempty"`
	Fallback  string               `json:"fallback,omitempty"`
	LastError string               `json:"last_error,omitempty"`
	Stuck     string               `json:"stuck,omitempty"`
	Disagreed string               `json:"disagreed,omitempty"`
	Warnings  []string             `json:"warnings,omitempty"` // e.g. a dns.verify server that did not converge
}

// PhaseStatus is when an incident reached a phase: AtMS after it was
// detected, SinceMS after the phase before.
type PhaseStatus struct {
	Phase   string    `json:"phase"`
	At      time.Time `json:"at"`
	AtMS    float64   `json:"at_ms"`
	SinceMS float64   `json:"since_ms"`
}

// StepStatus is one playbook step of an incident.
type StepStatus struct {
	Kind    string  `json:"kind"`
	Status  string  `json:"status"`
	Attempt int     `json:"attempt,omitempty"`
	MS      float64 `json:"ms,omitempty"` // first attempt to end
	Error   string  `json:"error,omitempty"`
	Note    string  `json:"note,omitempty"`
}

// Status returns the monitors and the status of every configured service,
// sorted by name. The leader reports its executor's records; a follower
// reads them from the shared store.
func (c *Controller) Status(ctx context.Context) Status {
	out := Status{Time: time.Now(), Monitor: c.name, Monitors: []MonitorStatus{}, Services: []ServiceStatus{}}
	if !c.running() {
		return out
	}
	out.Epoch = c.epoch()
	out.Monitors = c.monitors(ctx)
	out.VMs = c.vmStatus()
	p := c.plan()
	records, err := c.records(ctx)
	if err != nil {
		out.Error = err.Error()
	}
	for _, rec := range records {
		s := ServiceStatus{
			Service: rec.Service, State: rec.State.String(), Where: rec.Placement.Where,
			Host: rec.Placement.Host, Since: rec.Placement.Since,
			LastIncident: incidentStatus(rec.Incident), Incidents: rec.Seq,
		}
		if rec.Placement.Address.IsValid() {
			s.Address = rec.Placement.Address.String()
		}
		if s.Where == "" { // never saved: on its primary
			cfg := p.services[rec.Service]
			s.Where, s.Host, s.Address = recover.AtPrimary, cfg.Service.VM, cfg.Service.Address.String()
		}
		st := c.preparer().get(rec.Service)
		s.Standby = Standby{Name: p.standbys[rec.Service], Prepared: st.ok, Address: st.address, At: st.at, Error: st.err, Note: st.skipped}
		out.Services = append(out.Services, s)
	}
	return out
}

// ms is d in milliseconds, to a tenth.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// incidentStatus summarizes an incident; nil stays nil.
func incidentStatus(inc *recover.Incident) *IncidentStatus {
	if inc == nil {
		return nil
	}
	s := &IncidentStatus{
		ID: inc.ID, Open: inc.Open(), Result: inc.Result, Opened: inc.Opened, Closed: inc.Closed,
		Agent: inc.Agent, Fallback: inc.Fallback, LastError: inc.LastError,
		Stuck: inc.Stuck, Disagreed: inc.Disagreed, Warnings: inc.Warnings, Phases: []PhaseStatus{}, Steps: []StepStatus{},
	}
	if len(inc.Triggers) > 0 {
		s.Source, s.Reason = string(inc.Triggers[0].Source), inc.Triggers[0].Reason
	}
	if inc.From.IsValid() {
		s.From = inc.From.String()
	}
	if inc.To.IsValid() {
		s.To = inc.To.String()
	}
	for i, ph := range inc.Phases {
		ps := PhaseStatus{Phase: string(ph.Phase), At: ph.At}
		if i > 0 {
			ps.AtMS = ms(ph.At.Sub(inc.Phases[0].At))
			ps.SinceMS = ms(ph.At.Sub(inc.Phases[i-1].At))
		}
		s.Phases = append(s.Phases, ps)
	}
	if n := len(inc.Phases); n > 0 {
		s.TotalMS = ms(inc.Phases[n-1].At.Sub(inc.Phases[0].At))
	}
	for _, st := range inc.Steps {
		ss := StepStatus{Kind: string(st.Kind), Status: string(st.Status), Attempt: st.Attempt, Error: st.Error, Note: st.Note}
		if !st.Started.IsZero() && !st.Finished.IsZero() {
			ss.MS = ms(st.Finished.Sub(st.Started))
		}
		s.Steps = append(s.Steps, ss)
	}
	return s
}

// records returns the last saved record of every configured service: the
// executor's while leading, else the store's (a service without one is on
// its primary).
func (c *Controller) records(ctx context.Context) ([]recover.Record, error) {
	if t := c.leading(); t != nil {
		return t.exec.Records(), nil
	}
	stored, err := c.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load records: %w", err)
	}
	p := c.plan()
	byName := map[string]recover.Record{}
	for _, r := range stored {
		byName[r.Service] = r
	}
	names := make([]string, 0, len(p.services))
	for name := range p.services {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]recover.Record, 0, len(names))
	for _, name := range names {
		r, ok := byName[name]
		if !ok {
			r = recover.New(p.services[name]).Record()
		}
		out = append(out, r)
	}
	return out, nil
}

// monitors lists the monitors that campaign, the leader first.
func (c *Controller) monitors(ctx context.Context) []MonitorStatus {
	if c.elector == nil {
		t := c.leading()
		m := MonitorStatus{Name: c.name, Leader: t != nil}
		if c.addr != nil {
			m.Address = c.addr.String()
		}
		if t != nil {
			m.Since, m.Epoch = t.since, t.epoch
		}
		return []MonitorStatus{m}
	}
	mons, err := c.elector.Monitors(ctx)
	if err != nil {
		c.log.Warn("list monitors", "err", err)
		return []MonitorStatus{}
	}
	out := make([]MonitorStatus, 0, len(mons))
	for i, m := range mons {
		ms := MonitorStatus{Name: m.Name, Address: m.Address, Leader: i == 0, Since: m.Since}
		if i == 0 {
			ms.Epoch = uint64(m.Rev)
		}
		out = append(out, ms)
	}
	return out
}
