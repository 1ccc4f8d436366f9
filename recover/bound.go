package recover

import (
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"
)

// What a record may hold. A record is written whole on every transition,
// and a store refuses a write past its request limit (etcd: 1.5 MiB), so
// nothing an incident keeps may grow with what the outside world sends it.
const (
	// MaxRecordBytes is the size guard of every save: a record whose JSON
	// would be larger is trimmed (texts cut shorter, the middle of long
	// phase lists dropped) until it fits, never refused.
	MaxRecordBytes = 64 << 10
	// MaxTextBytes is the longest reason, error or note a record keeps.
	MaxTextBytes = 1024
	// maxTriggerSources is the most trigger records an incident keeps; a
	// trigger from yet another source is counted in the last one.
	maxTriggerSources = 8
	// maxPhases and maxMoves bound the phase list of an incident (a stuck
	// incident re-armed again and again) and the move times of a service
	// without flap damping.
	maxPhases = 64
	maxMoves  = 100
	// maxWarnings is the most warnings an incident keeps (the latest; a
	// warning already kept is not kept again): every successful dns-replace
	// adds one per unverified server, again on a resume or re-arm.
	maxWarnings = 16
	// tightTextBytes is how short texts are cut when a record still does
	// not fit.
	tightTextBytes = 96
)

// noteTrigger records a trigger that joins the open incident: counted in
// its source's record, or in a new one.
func (m *Machine) noteTrigger(tr TriggerRecord) {
	inc := m.rec.Incident
	for i := range inc.Triggers {
		if t := &inc.Triggers[i]; t.Source == tr.Source || i == maxTriggerSources-1 {
			t.Count = max(t.Count, 1) + 1
			t.Last, t.LastReason = tr.At, clip(tr.Reason, MaxTextBytes)
			return
		}
	}
	inc.Triggers = append(inc.Triggers, newTrigger(tr.Source, tr.Reason, tr.At))
}

// newTrigger is the record of a first trigger from a source.
func newTrigger(src Source, reason string, at time.Time) TriggerRecord {
	return TriggerRecord{Source: src, Reason: clip(reason, MaxTextBytes), At: at, Count: 1}
}

// bound applies the size guard to the machine's record; Step and Resume end
// with it, so every record the executor saves has passed it.
func (m *Machine) bound() {
	r := &m.rec
	if len(r.Moves) > maxMoves {
		r.Moves = r.Moves[len(r.Moves)-maxMoves:]
	}
	inc := r.Incident
	if inc == nil {
		return
	}
	if len(inc.Phases) > maxPhases {
		// Keep how it began and how it goes on.
		head := inc.Phases[:maxPhases/4]
		tail := inc.Phases[len(inc.Phases)-(maxPhases-len(head)):]
		inc.Phases = append(append([]PhaseTime(nil), head...), tail...)
	}
	clipTexts(inc, MaxTextBytes)
	if encodedSize(*r) <= MaxRecordBytes {
		return
	}
	clipTexts(inc, tightTextBytes)
	if len(inc.Agent) > 16 {
		inc.Agent = inc.Agent[:16]
	}
	if encodedSize(*r) <= MaxRecordBytes {
		return
	}
	// The last resort: only the latest warning, a short phase list and
	// texts cut to their mark.
	if len(inc.Warnings) > 1 {
		inc.Warnings = inc.Warnings[len(inc.Warnings)-1:]
	}
	if len(inc.Phases) > 16 {
		inc.Phases = append(append([]PhaseTime(nil), inc.Phases[:4]...), inc.Phases[len(inc.Phases)-12:]...)
	}
	clipTexts(inc, 0)
}

// clipTexts cuts every free text of an incident to n bytes.
func clipTexts(inc *Incident, n int) {
	for i := range inc.Triggers {
		t := &inc.Triggers[i]
		t.Reason, t.LastReason = clip(t.Reason, n), clip(t.LastReason, n)
	}
	for i := range inc.Steps {
		s := &inc.Steps[i]
		s.Error, s.Note, s.Unprotected = clip(s.Error, n), clip(s.Note, n), clip(s.Unprotected, n)
	}
	for _, p := range []*string{&inc.LastError, &inc.Stuck, &inc.Disagreed, &inc.Fallback, &inc.Aborted, &inc.ResetRefused} {
		*p = clip(*p, n)
	}
	if inc.Reset != nil {
		inc.Reset.Reason, inc.Reset.Stuck = clip(inc.Reset.Reason, n), clip(inc.Reset.Stuck, n)
	}
	inc.Warnings = boundWarnings(inc.Warnings, n)
}

// boundWarnings cuts each warning to n bytes, drops those already kept and
// keeps the latest maxWarnings.
func boundWarnings(ws []string, n int) []string {
	if len(ws) == 0 {
		return ws
	}
	seen := make(map[string]bool, len(ws))
	out := make([]string, 0, min(len(ws), maxWarnings))
	for i := len(ws) - 1; i >= 0 && len(out) < maxWarnings; i-- { // latest first
		w := clip(ws[i], n)
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	slices.Reverse(out)
	return out
}

// truncated marks a text that was cut.
const truncated = "…(truncated)"

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len(truncated), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncated
}

// encodedSize is the size of the record as the stores write it.
func encodedSize(r Record) int {
	b, err := json.Marshal(r)
	if err != nil {
		return 0
	}
	return len(b)
}
