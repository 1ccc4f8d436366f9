// Package capacity is the monitor daemon's capacity sampling: the load and
// CPU steal that the agents on the standby VMs and spares report
// (GET /v1/capacity). The leader samples every move interval; the standby
// samples feed one overload detector per standby (package spares), the
// spare samples feed spare ranking, and both show in GET /v1/status
// and on /metrics.
//
// It reads agents only through Source and the inventory it is given; it
// does not decide what moves (the daemon's move policy does) nor open agent
// clients.
package capacity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/understudy/understudy/standby"
)

// Source reads what a VM's agent reports about its load and CPU steal (GET
// /v1/capacity), by standby or spare name. Implementations must be safe
// for concurrent use and honour ctx.
type Source interface {
	Capacity(ctx context.Context, name string) (standby.Capacity, error)
}

// ErrNoCapacity: the agent client cannot read capacity (a test fake, or a
// client that is not a *standby.Client). Such a standby is not sampled.
var ErrNoCapacity = errors.New("agent client cannot read capacity")

// Sample is an agent's last capacity answer, or why there is none.
type Sample struct {
	At    time.Time
	Agent string // the URL it was asked at: a changed URL samples anew
	Cap   standby.Capacity
	Err   error
}

// StealAndLoad is what spare ranking and the status take from a sample: steal
// in percent and the 1-minute load per CPU, or why they are unknown.
func (s Sample) StealAndLoad() (steal, load1 float64, unknown string) {
	switch {
	case s.Err != nil:
		return 0, 0, fmt.Sprintf("no answer from its agent: %v", s.Err)
	case s.Cap.CPUs <= 0:
		return 0, 0, "its agent reported no CPUs"
	case s.Cap.StealIntervalMS <= 0:
		return 0, 0, "its agent has not sampled CPU steal yet"
	}
	return s.Cap.StealPercent, s.Cap.Load[0] / float64(s.Cap.CPUs), ""
}
