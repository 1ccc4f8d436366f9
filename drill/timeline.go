package drill

import (
	"time"

	"github.com/understudy/understudy/recover"
)

// Timeline is the raw material of a result: what Run recorded.
type Timeline struct {
	Samples  []Sample
	Incident *IncidentStatus
	InPlace  time.Time // the injector returned
	Removed  time.Time // the fault was removed
	Primary  string    // the primary's address
	Body     string    // what the primary answered before the drill
}

// newBackend reports whether s is a success served by another copy than the
// primary: on the DNS path a different address (and body, when known); on
// the proxy path a different body.
func newBackend(s Sample, primary, body string) bool {
	if !s.OK {
		return false
	}
	if s.Path == PathDNS {
		return s.Addr != primary && (body == "" || s.Backend != body)
	}
	return body != "" && s.Backend != body
}

// Analyze fills res from the timeline, with t0 as the injection: the
// phases, the requests per path, the labelled failures, the recovery time
// and the verdict. It is pure; Run calls it once the drill ends.
func Analyze(res *Result, t0 time.Time, tl Timeline) {
	inc := tl.Incident
	p := &res.Phases
	p.Detected = ms(t0, inc.Phase(recover.PhaseDetected))
	p.Confirmed = ms(t0, inc.Phase(recover.PhaseConfirmed))
	p.Fenced = ms(t0, inc.Phase(recover.PhaseFenced))
	p.ActivationStarted = ms(t0, inc.Phase(recover.PhaseActivating))
	p.Activated = ms(t0, inc.Phase(recover.PhaseActivated))
	p.Healthy = ms(t0, inc.Phase(recover.PhaseHealthy))
	p.DNSFlipped = ms(t0, inc.Phase(recover.PhaseDNSFlipped))
	p.DNSVerified = ms(t0, inc.Phase(recover.PhaseVerified))
	p.OnStandby = ms(t0, inc.Phase(recover.PhaseOnStandby))
	p.FenceStop = ms(t0, inc.Phase(recover.PhaseFenceStop))
	p.FaultInPlace = ms(t0, tl.InPlace)
	p.FaultRemoved = ms(t0, tl.Removed)
	if inc != nil {
		res.Incident, res.IncidentResult = inc.ID, inc.Result
		if inc.Stuck != "" {
			res.Notes = append(res.Notes, "incident stuck: "+inc.Stuck)
		}
		if inc.LastError != "" && inc.Result != "recovered" {
			res.Notes = append(res.Notes, "incident error: "+inc.LastError)
		}
	}

	// Without a body to tell the copies apart, the proxy's first success is
	// its first one after the DNS flip.
	var flipped time.Time
	if inc != nil {
		flipped = inc.Phase(recover.PhaseDNSFlipped)
	}
	var first = map[string]time.Time{}
	var end time.Time
	res.Requests = Requests{}
	for i := range tl.Samples {
		s := &tl.Samples[i]
		c := &res.Requests.DNS
		if s.Path == PathProxy {
			c = &res.Requests.Proxy
		}
		if s.OK {
			c.OK++
		} else {
			c.Failed++
		}
		done := s.Start.Add(s.Duration)
		if done.After(end) {
			end = done
		}
		if s.Start.Before(t0) {
			continue
		}
		isNew := newBackend(*s, tl.Primary, tl.Body)
		if s.Path == PathProxy && tl.Body == "" {
			isNew = s.OK && !flipped.IsZero() && s.Start.After(flipped)
		}
		s.New = isNew
		if isNew && (first[s.Path].IsZero() || done.Before(first[s.Path])) {
			first[s.Path] = done
		}
	}
	res.Failures = classify(t0, tl.Samples, first, tl.Primary)
	for _, f := range res.Failures {
		c := &res.Requests.DNS
		if f.Path == PathProxy {
			c = &res.Requests.Proxy
		}
		switch f.When {
		case FailedBefore:
			c.FailedBefore++
		case FailedAfter:
			c.FailedAfterRecovery++
		}
	}
	p.FirstSuccessDNS = ms(t0, first[PathDNS])
	p.FirstSuccessProxy = ms(t0, first[PathProxy])
	res.Samples = tl.Samples
	res.EndMS = end.Sub(t0).Milliseconds()

	res.RecoveryMS = nil
	for _, path := range res.Via.Paths() {
		v := p.FirstSuccessDNS
		if path == PathProxy {
			v = p.FirstSuccessProxy
		}
		if v == nil {
			res.RecoveryMS = nil
			break
		}
		if res.RecoveryMS == nil || *v > *res.RecoveryMS {
			x := *v
			res.RecoveryMS = &x
		}
	}
	res.Verdict = NotRecovered
	if res.RecoveryMS != nil {
		res.Verdict = Recovered
	}
}
