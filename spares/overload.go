package spares

import (
	"fmt"
	"time"
)

// Defaults of Thresholds.
const (
	DefaultSteal  = 10.0            // percent
	DefaultLoad   = 1.0             // 1-minute load average per CPU
	DefaultWindow = 2 * time.Minute // how long both must hold
)

// Thresholds say when a standby VM is overloaded: CPU steal above Steal
// and load above Load, both without a break for Window. Steal alone is no
// reason to move: if work is not queueing (load low) the services are not
// starved. A zero field takes its default.
type Thresholds struct {
	Steal  float64       // percent
	Load   float64       // 1-minute load average per CPU
	Window time.Duration // how long both must hold
	// MaxGap is the longest pause between samples that does not break a
	// run (missing data is not overload); default Window/2.
	MaxGap time.Duration
}

func (t Thresholds) withDefaults() Thresholds {
	if t.Steal <= 0 {
		t.Steal = DefaultSteal
	}
	if t.Load <= 0 {
		t.Load = DefaultLoad
	}
	if t.Window <= 0 {
		t.Window = DefaultWindow
	}
	if t.MaxGap <= 0 {
		t.MaxGap = t.Window / 2
	}
	return t
}

// Sample is one measurement of a VM (from its agent's GET /v1/capacity).
type Sample struct {
	At    time.Time
	Steal float64 // percent
	Load1 float64 // 1-minute load average
	CPUs  int     // to scale the load; 0 counts as 1
}

// perCPU is the sample's load per CPU.
func (s Sample) perCPU() float64 {
	if s.CPUs <= 0 {
		return s.Load1
	}
	return s.Load1 / float64(s.CPUs)
}

// Detector keeps a VM's recent samples and says whether it is overloaded.
// It is pure (the caller passes the time) and not safe for concurrent use.
type Detector struct {
	th      Thresholds
	samples []Sample // oldest first
}

// NewDetector returns a detector with th (zero fields take defaults).
func NewDetector(th Thresholds) *Detector { return &Detector{th: th.withDefaults()} }

// Add records a sample; samples must come in time order (older ones are
// dropped). History older than twice the window is forgotten.
func (d *Detector) Add(s Sample) {
	if n := len(d.samples); n > 0 && !s.At.After(d.samples[n-1].At) {
		return
	}
	d.samples = append(d.samples, s)
	cut := 0
	for cut < len(d.samples) && s.At.Sub(d.samples[cut].At) > 2*d.th.Window {
		cut++
	}
	d.samples = d.samples[cut:]
}

// Overloaded reports whether the VM is overloaded at now, with why (also
// why not, for status pages and --dry-run).
func (d *Detector) Overloaded(now time.Time) (bool, string) {
	return Overloaded(d.samples, d.th, now)
}

// Overloaded decides from a sample history (oldest first) whether steal and
// load have both been above their thresholds, without a break and without a
// gap longer than MaxGap, for at least the window up to now.
func Overloaded(history []Sample, th Thresholds, now time.Time) (bool, string) {
	th = th.withDefaults()
	if len(history) == 0 {
		return false, "no samples"
	}
	last := history[len(history)-1]
	if now.Sub(last.At) > th.MaxGap {
		return false, fmt.Sprintf("no sample for %s", now.Sub(last.At).Round(time.Second))
	}
	if why := below(last, th); why != "" {
		return false, why
	}
	start := last.At
	for i := len(history) - 2; i >= 0; i-- {
		s := history[i]
		if start.Sub(s.At) > th.MaxGap || below(s, th) != "" {
			break
		}
		start = s.At
	}
	held := now.Sub(start)
	what := fmt.Sprintf("steal %.0f%% > %.0f%% and load %.2f > %.2f per CPU", last.Steal, th.Steal, last.perCPU(), th.Load)
	if held < th.Window {
		return false, fmt.Sprintf("%s for %s only (window %s)", what, held.Round(time.Second), th.Window)
	}
	return true, fmt.Sprintf("%s for %s", what, held.Round(time.Second))
}

// below says which threshold a sample stays under, or "".
func below(s Sample, th Thresholds) string {
	switch {
	case s.Steal <= th.Steal:
		return fmt.Sprintf("steal %.0f%% <= %.0f%%", s.Steal, th.Steal)
	case s.perCPU() <= th.Load:
		return fmt.Sprintf("steal %.0f%% is high but load %.2f <= %.2f per CPU: work is not queueing", s.Steal, s.perCPU(), th.Load)
	}
	return ""
}
