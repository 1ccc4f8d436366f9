package recover

import (
	"slices"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// The drain steps of moves: a webhook (Step.URL, POSTed the incident) or a
// command (Step.Command, run with the incident's variables) that takes the
// service out of its service discovery (Consul, Kubernetes) before the
// hold and the copy, and puts it back after the release. Like every move
// step they may run again after a restart: the hooks must be idempotent.
const (
	StepDrain   playbooks.Kind = "drain"
	StepUndrain playbooks.Kind = "undrain"
)

// drainTimeout bounds one attempt of a drain hook.
const drainTimeout = 10 * time.Second

// DrainStep returns the drain or undrain step (kind) of a hook: a webhook
// when url is set, else the command.
func DrainStep(kind playbooks.Kind, url string, command []string) playbooks.Step {
	return playbooks.Step{Kind: kind, Timeout: drainTimeout, URL: url, Command: slices.Clone(command),
		Retry: playbooks.Retry{Attempts: 3, Backoff: 500 * time.Millisecond}}
}

// WithDrain returns a copy of the move playbook pb with drain (when not
// nil) before its hold and undrain (when not nil) after its release. A
// move aborted after its drain ran undoes it with undrain (see undoFor).
func WithDrain(pb *playbooks.Playbook, drain, undrain *playbooks.Step) *playbooks.Playbook {
	out := &playbooks.Playbook{Name: pb.Name}
	for _, s := range pb.Steps {
		if s.Kind == StepHold && drain != nil {
			out.Steps = append(out.Steps, *drain)
		}
		out.Steps = append(out.Steps, s)
		if s.Kind == StepRelease && undrain != nil {
			out.Steps = append(out.Steps, *undrain)
		}
	}
	return out
}

// undoFor is the step that undoes an attempted step of kind k in pb: a
// drain is undone by pb's undrain (none without one), the others by
// undoSpecs.
func undoFor(pb *playbooks.Playbook, k playbooks.Kind) (playbooks.Step, bool) {
	if k != StepDrain {
		s, ok := undoSpecs[k]
		return s, ok
	}
	if i := pb.Index(StepUndrain); i >= 0 {
		return pb.Steps[i], true
	}
	return playbooks.Step{}, false
}
