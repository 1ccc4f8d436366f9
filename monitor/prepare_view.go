package monitor

import (
	"github.com/understudy/understudy/monitor/plan"
	"github.com/understudy/understudy/monitor/prepare"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// prepareView is what the standby preparer reads: the plan's agent specs
// and the executor's records.
type prepareView struct {
	plan func() *plan.Plan
	exec func() *executor.Executor
}

var _ prepare.Services = prepareView{}

// Specs implements prepare.Services.
func (v prepareView) Specs() map[string]prepare.Spec {
	p := v.plan()
	out := make(map[string]prepare.Spec, len(p.Specs))
	for name, spec := range p.Specs {
		out[name] = prepare.Spec{Standby: p.Standbys[name], Spec: spec}
	}
	return out
}

// Records implements prepare.Services.
func (v prepareView) Records() []recover.Record { return v.exec().Records() }
