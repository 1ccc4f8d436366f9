package report

import (
	"cmp"
	"slices"

	"github.com/understudy/understudy/drill"
)

// mark is one phase of the timeline.
type mark struct {
	Key   string // short letter for the ASCII timeline
	Label string // human name
	MS    *int64 // from the injection; nil when it did not happen
}

// marks returns the timeline's phases in their logical order; inject is 0.
func marks(r *drill.Result) []mark {
	zero := int64(0)
	p := r.Phases
	m := []mark{
		{"I", "inject", &zero},
		{"P", "fault in place", p.FaultInPlace},
		{"D", "detected", p.Detected},
		{"C", "confirmed", p.Confirmed},
		{"F", "fenced", p.Fenced},
		{"S", "activation started", p.ActivationStarted},
		{"A", "activated", p.Activated},
		{"H", "healthy", p.Healthy},
		{"N", "DNS flipped", p.DNSFlipped},
		{"V", "DNS verified", p.DNSVerified},
		{"d", "first success via DNS", p.FirstSuccessDNS},
		{"p", "first success via proxy", p.FirstSuccessProxy},
		{"X", "fence stopped", p.FenceStop},
		{"R", "fault removed", p.FaultRemoved},
	}
	if p.FenceStop == nil { // a stop fence: not a missing phase
		m = slices.DeleteFunc(m, func(x mark) bool { return x.Key == "X" })
	}
	if p.DNSVerified == nil { // no dns.verify servers: not a missing phase
		m = slices.DeleteFunc(m, func(x mark) bool { return x.Key == "V" })
	}
	if r.Via == drill.ViaDNS {
		m = slices.DeleteFunc(m, func(x mark) bool { return x.Key == "p" })
	}
	if r.Via == drill.ViaProxy {
		m = slices.DeleteFunc(m, func(x mark) bool { return x.Key == "d" })
	}
	return m
}

// happened returns the marks that happened, sorted by time (stable on the
// logical order).
func happened(r *drill.Result) []mark {
	var out []mark
	for _, m := range marks(r) {
		if m.MS != nil {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b mark) int { return cmp.Compare(*a.MS, *b.MS) })
	return out
}

// sampleClass is how a request is drawn.
type sampleClass int

const (
	classPrimary sampleClass = iota // answered by the primary (the old backend)
	classNew                        // answered by the new backend
	classFailed                     // failed
)

func classOf(s drill.Sample) sampleClass {
	switch {
	case !s.OK:
		return classFailed
	case s.New:
		return classNew
	}
	return classPrimary
}
