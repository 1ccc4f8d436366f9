// Package capacitytest has a hand fake of capacity.Source for tests: the
// capacities agents would report, set per VM.
package capacitytest

import (
	"context"
	"errors"
	"sync"

	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/standby"
)

// Fake answers a capacity per VM and counts the calls; a VM without one
// fails as an unreachable agent would. Safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	caps  map[string]standby.Capacity
	calls map[string]int
	block bool // wait for ctx to end instead (a hung agent)
}

var _ capacity.Source = (*Fake)(nil)

// New returns a fake with no capacities.
func New() *Fake {
	return &Fake{caps: map[string]standby.Capacity{}, calls: map[string]int{}}
}

// Capacity implements capacity.Source.
func (f *Fake) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	f.mu.Lock()
	f.calls[name]++
	c, ok := f.caps[name]
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return standby.Capacity{}, ctx.Err()
	}
	if !ok {
		return standby.Capacity{}, errors.New("dial tcp: connection refused")
	}
	return c, nil
}

// Set gives name a sample taken over a 5 s steal interval, as an agent reports it.
func (f *Fake) Set(name string, cpus int, steal, load float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caps[name] = standby.Capacity{CPUs: cpus, StealPercent: steal, StealIntervalMS: 5000, Load: [3]float64{load, load, load}}
}

// Count is how often name was asked.
func (f *Fake) Count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// Block makes every call wait for its ctx to end (a hung agent).
func (f *Fake) Block(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block = on
}

// SetCapacity gives name the whole answer c.
func (f *Fake) SetCapacity(name string, c standby.Capacity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caps[name] = c
}
