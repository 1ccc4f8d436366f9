package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// hostSteps are the steps of a recovery, each from one phase to the next,
// in the order a failover goes through them; "injection" is phase 0 and
// "served" the service's recovery_ms.
var hostSteps = []struct{ name, from, to string }{
	{"detect", "injection", "detected"},
	{"confirm", "detected", "confirmed"},
	{"fence", "confirmed", "fenced"},
	{"queue", "fenced", "activation_started"},
	{"activate", "activation_started", "activated"},
	{"health check", "activated", "healthy"},
	{"dns swap", "healthy", "dns_flipped"},
	{"serve", "dns_flipped", "served"},
}

// phaseMS returns the phase of r named as in hostSteps.
func phaseMS(r *Result, name string) *int64 {
	zero := int64(0)
	p := r.Phases
	switch name {
	case "injection":
		return &zero
	case "detected":
		return p.Detected
	case "confirmed":
		return p.Confirmed
	case "fenced":
		return p.Fenced
	case "activation_started":
		return p.ActivationStarted
	case "activated":
		return p.Activated
	case "healthy":
		return p.Healthy
	case "dns_flipped":
		return p.DNSFlipped
	case "served":
		return r.RecoveryMS
	}
	return nil
}

// Summarize fills the totals of a host drill from its Services: the
// verdict, how many recovered, when all were served again, the median and
// 95th percentile of their recovery, the requests per path and the steps
// with the slowest one. It is pure; RunHost calls it.
func Summarize(h *HostResult) {
	h.Total, h.Recovered = len(h.Services), 0
	h.Requests = Requests{}
	var rec []int64
	for i := range h.Services {
		r := &h.Services[i]
		addCount(&h.Requests.DNS, r.Requests.DNS)
		addCount(&h.Requests.Proxy, r.Requests.Proxy)
		if r.RecoveryMS != nil {
			h.Recovered++
			rec = append(rec, *r.RecoveryMS)
		}
	}
	h.AllServedMS, h.P50MS, h.P95MS = nil, nil, nil
	if len(rec) > 0 {
		slices.Sort(rec)
		h.P50MS, h.P95MS = rank(rec, 50), rank(rec, 95)
	}
	h.Verdict = NotRecovered
	if h.Total > 0 && h.Recovered == h.Total {
		h.Verdict = Recovered
		h.AllServedMS = rank(rec, 100)
	}
	h.Steps, h.SlowestStep = nil, ""
	var slowest int64 = -1
	for _, st := range hostSteps {
		var d []int64
		for i := range h.Services {
			from, to := phaseMS(&h.Services[i], st.from), phaseMS(&h.Services[i], st.to)
			if from != nil && to != nil && *to >= *from {
				d = append(d, *to-*from)
			}
		}
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		s := StepStat{Name: st.name, From: st.from, To: st.to, N: len(d), MedianMS: *rank(d, 50), MaxMS: d[len(d)-1]}
		h.Steps = append(h.Steps, s)
		if s.MedianMS > slowest {
			slowest, h.SlowestStep = s.MedianMS, s.Name
		}
	}
}

// OutageFailed is the part of c's failures the outage caused: neither
// before the injection nor after the path was served again.
func OutageFailed(c PathCount) int { return c.Failed - c.FailedBefore - c.FailedAfterRecovery }

func addCount(sum *PathCount, c PathCount) {
	sum.OK += c.OK
	sum.Failed += c.Failed
	sum.FailedBefore += c.FailedBefore
	sum.FailedAfterRecovery += c.FailedAfterRecovery
}

// rank returns the p-th percentile of the sorted, non-empty v by nearest
// rank: the smallest value with at least p % of v at or below it.
func rank(v []int64, p int) *int64 {
	i := (p*len(v)+99)/100 - 1
	x := v[max(i, 0)]
	return &x
}

// statusLister is a Monitor that reads every service's status in one call
// (HTTPMonitor); a host drill then asks once for all its services.
type statusLister interface {
	Services(ctx context.Context) ([]ServiceStatus, error)
}

// sharedStatus is a Monitor whose Service answers come from one status
// read shared by every service of a host drill for up to ttl (a host drill
// polls each of its services every 100 ms: without it, 24 services would
// read the monitor's whole status 240 times a second).
type sharedStatus struct {
	Monitor
	list statusLister
	ttl  time.Duration

	mu   sync.Mutex
	at   time.Time
	all  []ServiceStatus
	errV error
}

// newSharedStatus wraps m when it can list every service at once.
func newSharedStatus(m Monitor, ttl time.Duration) Monitor {
	l, ok := m.(statusLister)
	if !ok {
		return m
	}
	return &sharedStatus{Monitor: m, list: l, ttl: ttl}
}

// sharedReadTimeout bounds one shared status read: it runs on no caller's
// context (one caller's cancellation must not fail the read every other
// service waits for), so it needs its own bound.
const sharedReadTimeout = 10 * time.Second

// Service returns the entry of name from a status read at most ttl ago.
// The read runs without the caller's cancellation but within
// sharedReadTimeout, and a context error (its timeout) is not cached: the
// next caller reads again.
func (s *sharedStatus) Service(ctx context.Context, name string) (ServiceStatus, error) {
	if err := ctx.Err(); err != nil {
		return ServiceStatus{}, fmt.Errorf("read the monitor's status: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.at) > s.ttl {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedReadTimeout)
		all, err := s.list.Services(rctx)
		cancel()
		if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return ServiceStatus{}, err
		}
		s.all, s.errV, s.at = all, err, time.Now()
	}
	if s.errV != nil {
		return ServiceStatus{}, s.errV
	}
	for _, st := range s.all {
		if st.Service == name {
			return st, nil
		}
	}
	return ServiceStatus{}, errNoService
}
