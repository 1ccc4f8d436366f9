package spares

import (
	"fmt"
	"time"
)

// Defaults of Thresholds.
const (
	DefaultSteal      = 10.0            // percent
	DefaultLoad       = 1.0             // 1-minute load average per CPU
	DefaultCPU        = 80.0            // percent of the VM's CPUs
	DefaultMemory     = 90.0            // percent of the VM's memory
	DefaultHysteresis = 0.1             // a fired trigger clears below 90 % of its threshold
	DefaultWindow     = 2 * time.Minute // how long the trigger's condition must hold
)

// Trigger is what makes a standby VM overloaded.
type Trigger string

// The triggers.
const (
	// TriggerStealAndLoad (GMO Pepabo's scheduler): CPU steal above Steal
	// and load above Load, both. The default.
	TriggerStealAndLoad Trigger = "steal-and-load"
	// TriggerLoad (VCRecovery): the VM's CPU use above CPU percent, as
	// when its recovered containers saturate it with no steal at all.
	TriggerLoad Trigger = "load"
	// TriggerMemory: the VM's memory in use above Memory percent.
	TriggerMemory Trigger = "memory"
)

// Thresholds say when a standby VM is overloaded: the Trigger's condition
// without a break for Window. steal-and-load: CPU steal above Steal and
// load above Load (steal alone is no reason to move: if work is not
// queueing, the services are not starved); load: CPU use above CPU;
// memory: memory in use above Memory. Once it has fired, the condition
// holds until the level falls below (1-Hysteresis) of its threshold, so a
// level that hovers at the threshold neither fires nor clears on every
// sample. A zero field takes its default.
type Thresholds struct {
	Trigger    Trigger
	Steal      float64       // percent
	Load       float64       // 1-minute load average per CPU
	CPU        float64       // percent of the VM's CPUs
	Memory     float64       // percent of the VM's memory
	Hysteresis float64       // a fraction of the threshold, in [0, 1)
	Window     time.Duration // how long the condition must hold
	// MaxGap is the longest pause between samples that does not break a
	// run (missing data is not overload); default Window/2.
	MaxGap time.Duration
}

func (t Thresholds) withDefaults() Thresholds {
	if t.Trigger == "" {
		t.Trigger = TriggerStealAndLoad
	}
	if t.Steal <= 0 {
		t.Steal = DefaultSteal
	}
	if t.Load <= 0 {
		t.Load = DefaultLoad
	}
	if t.CPU <= 0 {
		t.CPU = DefaultCPU
	}
	if t.Memory <= 0 {
		t.Memory = DefaultMemory
	}
	if t.Hysteresis <= 0 || t.Hysteresis >= 1 {
		t.Hysteresis = DefaultHysteresis
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
	// CPUPercent is the VM's CPU use, MemoryPercent its memory in use,
	// both in percent of what it has.
	CPUPercent    float64
	MemoryPercent float64
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
	fired   bool     // the condition held for the window; cleared by hysteresis
}

// NewDetector returns a detector with th (zero fields take defaults).
func NewDetector(th Thresholds) *Detector { return &Detector{th: th.withDefaults()} }

// Thresholds returns the detector's thresholds, defaults filled in.
func (d *Detector) Thresholds() Thresholds { return d.th }

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

// The states of a trigger (Verdict.State).
const (
	StateNoData = "no-data" // no recent sample
	StateBelow  = "below"   // the condition does not hold
	StateRising = "rising"  // it holds, not yet for the window
	StateFired  = "fired"   // it held for the window (and has not cleared)
)

// Verdict is a detector's answer at one time.
type Verdict struct {
	Overloaded bool
	State      string // StateNoData, StateBelow, StateRising or StateFired
	Why        string // why (also why not, for status pages and --dry-run)
}

// Overloaded reports whether the VM is overloaded at now, with why (also
// why not, for status pages and --dry-run).
func (d *Detector) Overloaded(now time.Time) (bool, string) {
	v := d.Check(now)
	return v.Overloaded, v.Why
}

// Check is Overloaded with the trigger's state. A fired trigger stays
// fired while the last sample is above the clear level (hysteresis).
func (d *Detector) Check(now time.Time) Verdict {
	if d.fired {
		if n := len(d.samples); n > 0 && now.Sub(d.samples[n-1].At) <= d.th.MaxGap {
			last := d.samples[n-1]
			if why := below(last, d.th, 1-d.th.Hysteresis); why == "" {
				return Verdict{Overloaded: true, State: StateFired, Why: fmt.Sprintf("%s (fired; clears below %s)", what(last, d.th), clearLevel(d.th))}
			}
		}
		d.fired = false
	}
	v := check(d.samples, d.th, now)
	d.fired = v.Overloaded
	return v
}

// Overloaded decides from a sample history (oldest first) whether the
// trigger's condition has held, without a break and without a gap longer
// than MaxGap, for at least the window up to now (no hysteresis: that
// needs a Detector's memory).
func Overloaded(history []Sample, th Thresholds, now time.Time) (bool, string) {
	v := check(history, th.withDefaults(), now)
	return v.Overloaded, v.Why
}

func check(history []Sample, th Thresholds, now time.Time) Verdict {
	if len(history) == 0 {
		return Verdict{State: StateNoData, Why: "no samples"}
	}
	last := history[len(history)-1]
	if now.Sub(last.At) > th.MaxGap {
		return Verdict{State: StateNoData, Why: fmt.Sprintf("no sample for %s", now.Sub(last.At).Round(time.Second))}
	}
	if why := below(last, th, 1); why != "" {
		return Verdict{State: StateBelow, Why: why}
	}
	start := last.At
	for i := len(history) - 2; i >= 0; i-- {
		s := history[i]
		if start.Sub(s.At) > th.MaxGap || below(s, th, 1) != "" {
			break
		}
		start = s.At
	}
	held := now.Sub(start)
	if held < th.Window {
		return Verdict{State: StateRising, Why: fmt.Sprintf("%s for %s only (window %s)", what(last, th), held.Round(time.Second), th.Window)}
	}
	if th.Trigger == TriggerLoad || th.Trigger == TriggerMemory {
		// "CPU 92 % over 60 s (threshold 80 %)"
		lvl, thr := level(last, th)
		return Verdict{Overloaded: true, State: StateFired, Why: fmt.Sprintf("%s %.0f %% over %.0f s (threshold %.0f %%)", th.Trigger.resource(), lvl, held.Seconds(), thr)}
	}
	return Verdict{Overloaded: true, State: StateFired, Why: fmt.Sprintf("%s for %s", what(last, th), held.Round(time.Second))}
}

// resource names what a load or memory trigger measures.
func (t Trigger) resource() string {
	if t == TriggerMemory {
		return "memory"
	}
	return "CPU"
}

// level is a load or memory trigger's level in s and its threshold.
func level(s Sample, th Thresholds) (lvl, threshold float64) {
	if th.Trigger == TriggerMemory {
		return s.MemoryPercent, th.Memory
	}
	return s.CPUPercent, th.CPU
}

// what says the sample's level against the trigger's threshold.
func what(s Sample, th Thresholds) string {
	switch th.Trigger {
	case TriggerLoad:
		return fmt.Sprintf("CPU %.0f %% (threshold %.0f %%)", s.CPUPercent, th.CPU)
	case TriggerMemory:
		return fmt.Sprintf("memory %.0f %% (threshold %.0f %%)", s.MemoryPercent, th.Memory)
	}
	return fmt.Sprintf("steal %.0f%% > %.0f%% and load %.2f > %.2f per CPU", s.Steal, th.Steal, s.perCPU(), th.Load)
}

// clearLevel says below what a fired trigger clears.
func clearLevel(th Thresholds) string {
	f := 1 - th.Hysteresis
	switch th.Trigger {
	case TriggerLoad:
		return fmt.Sprintf("CPU %.0f %%", th.CPU*f)
	case TriggerMemory:
		return fmt.Sprintf("memory %.0f %%", th.Memory*f)
	}
	return fmt.Sprintf("steal %.1f%% or load %.2f per CPU", th.Steal*f, th.Load*f)
}

// below says which threshold, scaled by f (1, or the clear level's
// fraction), a sample stays under, or "".
func below(s Sample, th Thresholds, f float64) string {
	switch th.Trigger {
	case TriggerLoad:
		if s.CPUPercent <= th.CPU*f {
			return fmt.Sprintf("CPU %.0f %% <= %.0f %%", s.CPUPercent, th.CPU*f)
		}
		return ""
	case TriggerMemory:
		if s.MemoryPercent <= th.Memory*f {
			return fmt.Sprintf("memory %.0f %% <= %.0f %%", s.MemoryPercent, th.Memory*f)
		}
		return ""
	}
	switch {
	case s.Steal <= th.Steal*f:
		return fmt.Sprintf("steal %.0f%% <= %.0f%%", s.Steal, th.Steal*f)
	case s.perCPU() <= th.Load*f:
		return fmt.Sprintf("steal %.0f%% is high but load %.2f <= %.2f per CPU: work is not queueing", s.Steal, s.perCPU(), th.Load*f)
	}
	return ""
}
