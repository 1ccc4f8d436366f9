package api

import (
	"math"
	"time"

	"github.com/understudy/understudy/recover"
)

// ms is d in milliseconds, to a tenth.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// Incident is the wire summary of the core's incident; nil stays nil.
func Incident(inc *recover.Incident) *IncidentStatus {
	if inc == nil {
		return nil
	}
	s := &IncidentStatus{
		ID: inc.ID, Open: inc.Open(), Result: inc.Result, Opened: inc.Opened, Closed: inc.Closed,
		Agent: agentPhases(inc.Agent), Fallback: inc.Fallback, LastError: inc.LastError,
		Stuck: inc.Stuck, Disagreed: inc.Disagreed, Warnings: inc.Warnings, Frozen: inc.Frozen, FenceStopFailed: inc.FenceStopFailed, Phases: []PhaseStatus{}, Steps: []StepStatus{},
	}
	if len(inc.Triggers) > 0 {
		s.Source, s.Reason = string(inc.Triggers[0].Source), inc.Triggers[0].Reason
	}
	if c := inc.Copy; c != nil {
		s.Copy = &CopyStatus{SyncedAt: c.SyncedAt, AgeMS: ms(c.Age), Bytes: c.Bytes, MaxRPOMS: ms(c.MaxRPO), Note: c.String()}
	}
	if inc.From.IsValid() {
		s.From = inc.From.String()
	}
	if inc.To.IsValid() {
		s.To = inc.To.String()
	}
	for i, ph := range inc.Phases {
		ps := PhaseStatus{Phase: ph.Phase, At: ph.At}
		if i > 0 {
			ps.AtMS = ms(ph.At.Sub(inc.Phases[0].At))
			ps.SinceMS = ms(ph.At.Sub(inc.Phases[i-1].At))
		}
		s.Phases = append(s.Phases, ps)
	}
	// The total ends at the last phase of the recovery itself: a frozen
	// primary's force-stop comes after it, in the background.
	for i := len(inc.Phases) - 1; i >= 0; i-- {
		if inc.Phases[i].Phase != recover.PhaseFenceStop {
			s.TotalMS = ms(inc.Phases[i].At.Sub(inc.Phases[0].At))
			break
		}
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

// agentPhases converts the agent's split of an activation (nil stays nil).
func agentPhases(ps []recover.AgentPhase) []AgentPhase {
	if ps == nil {
		return nil
	}
	out := make([]AgentPhase, len(ps))
	for i, p := range ps {
		out[i] = AgentPhase(p)
	}
	return out
}
