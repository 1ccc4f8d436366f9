package standby

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/understudy/understudy/lxd"
)

// fakeRuntime is a stateful in-memory Runtime and Checkpointer. Instances
// "listen" wherever the test's listener is: WaitIPv4 returns addr.
type fakeRuntime struct {
	mu         sync.Mutex
	instances  map[string]*fakeInstance
	starts     map[string]int
	addr       netip.Addr
	startDelay time.Duration
	startErr   error
	startGate  chan struct{} // when set, Start waits until it is closed
	inStart    atomic.Int32  // Start calls in progress
	// stateful is set by SetStateful; like the lxd adapter, stateful
	// snapshots and restores are refused without it.
	stateful    atomic.Bool
	snapshotErr error        // returned by Snapshot when set
	restoreErr  error        // returned by Restore when set (the container is left stopped)
	peakStart   atomic.Int32 // the most Start calls in progress at once
	// entered, when set, receives the name of every Start call as it
	// begins (before the gate): tests wait on it instead of polling.
	entered chan string
	// swapping names the instances a sync's swap holds aside: Ensure of a
	// missing one fails with lxd.ErrSwapping, as the lxd adapter does.
	swapping map[string]bool
}

type fakeInstance struct {
	spec      InstanceSpec
	running   bool
	snapshots map[string]bool
}

var (
	_ Runtime      = (*fakeRuntime)(nil)
	_ Checkpointer = (*fakeRuntime)(nil)
)

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{instances: map[string]*fakeInstance{}, starts: map[string]int{}, addr: netip.MustParseAddr("127.0.0.1")}
}

func (f *fakeRuntime) Ensure(_ context.Context, spec InstanceSpec) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in, ok := f.instances[spec.Name]; ok { // like lxd: set the keys the spec names
		for k, v := range spec.Config {
			in.spec.Config[k] = v
		}
		if spec.Memory > 0 {
			in.spec.Memory = spec.Memory
		}
		for k, d := range spec.Devices {
			if in.spec.Devices == nil {
				in.spec.Devices = map[string]map[string]string{}
			}
			in.spec.Devices[k] = maps.Clone(d)
		}
		return false, nil
	}
	if f.swapping[spec.Name] {
		return false, fmt.Errorf("ensure instance %q: %w", spec.Name, lxd.ErrSwapping)
	}
	spec.Config = maps.Clone(spec.Config)
	if spec.Config == nil {
		spec.Config = map[string]string{}
	}
	f.instances[spec.Name] = &fakeInstance{spec: spec, snapshots: map[string]bool{}}
	return true, nil
}

func (f *fakeRuntime) Start(ctx context.Context, name string) error {
	n := f.inStart.Add(1)
	defer f.inStart.Add(-1)
	for p := f.peakStart.Load(); n > p && !f.peakStart.CompareAndSwap(p, n); p = f.peakStart.Load() {
	}
	f.mu.Lock()
	delay, serr, gate, entered := f.startDelay, f.startErr, f.startGate, f.entered
	f.mu.Unlock()
	if entered != nil {
		select {
		case entered <- name:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[name]
	if !ok {
		return fmt.Errorf("start %q: %w", name, errInstanceNotFound)
	}
	if serr != nil {
		return serr
	}
	if !in.running {
		f.starts[name]++
		in.running = true
	}
	return nil
}

func (f *fakeRuntime) Stop(_ context.Context, name string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[name]
	if !ok {
		return fmt.Errorf("stop %q: %w", name, errInstanceNotFound)
	}
	in.running = false
	return nil
}

func (f *fakeRuntime) State(_ context.Context, name string) (InstanceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[name]
	if !ok {
		return InstanceState{}, errInstanceNotFound
	}
	st := InstanceState{Status: "Stopped", Running: in.running}
	if in.running {
		st.Status = "Running"
		st.Addresses = map[string][]netip.Addr{"eth0": {f.addr}}
	}
	return st, nil
}

func (f *fakeRuntime) Statuses(context.Context) (map[string]InstanceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]InstanceState, len(f.instances))
	for name, in := range f.instances {
		st := InstanceState{Status: "Stopped", Running: in.running}
		if in.running {
			st.Status = "Running"
		}
		out[name] = st
	}
	return out, nil
}

func (f *fakeRuntime) WaitIPv4(ctx context.Context, name, _ string) (netip.Addr, error) {
	for {
		st, err := f.State(ctx, name)
		if err != nil {
			return netip.Addr{}, err
		}
		if st.Running {
			return f.addr, nil
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func (f *fakeRuntime) Delete(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.instances, name)
	return nil
}

// SetStateful enables stateful snapshots and restores.
func (f *fakeRuntime) SetStateful(ok bool) { f.stateful.Store(ok) }

// StatefulConfig answers like Incus.
func (f *fakeRuntime) StatefulConfig(context.Context) (map[string]string, error) {
	return map[string]string{"migration.stateful": "true"}, nil
}

func (f *fakeRuntime) Snapshot(_ context.Context, name, snap string, stateful bool) error {
	if stateful && !f.stateful.Load() {
		return lxd.ErrStatefulUnsupported
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[name]
	if !ok {
		return errInstanceNotFound
	}
	if f.snapshotErr != nil {
		return f.snapshotErr
	}
	in.snapshots[snap] = true
	return nil
}

func (f *fakeRuntime) Restore(_ context.Context, name, snap string, stateful bool) error {
	if stateful && !f.stateful.Load() {
		return lxd.ErrStatefulUnsupported
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[name]
	if !ok {
		return errInstanceNotFound
	}
	if f.restoreErr != nil {
		return f.restoreErr
	}
	if !in.snapshots[snap] {
		return errors.New("no such snapshot")
	}
	if stateful && !in.running {
		in.running = true
		f.starts[name]++
	}
	return nil
}

// running reports whether the instance exists and runs, and how often it started.
func (f *fakeRuntime) status(name string) (exists, running bool, starts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.instances[name]
	if !ok {
		return false, false, f.starts[name]
	}
	return true, in.running, f.starts[name]
}

// memory returns the instance's limits.memory in bytes (0: none or missing).
func (f *fakeRuntime) memory(name string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in, ok := f.instances[name]; ok {
		return in.spec.Memory
	}
	return 0
}

func (f *fakeRuntime) config(name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in, ok := f.instances[name]; ok {
		return maps.Clone(in.spec.Config)
	}
	return nil
}

// usageRuntime is a fakeRuntime that reports use.
type usageRuntime struct{ *fakeRuntime }

var _ UsageReader = usageRuntime{}

func (u usageRuntime) Usage(_ context.Context, name string) (float64, int64, error) {
	if exists, running, _ := u.status(name); !exists || !running {
		return 0, 0, errInstanceNotFound
	}
	return 1.5, 32 << 20, nil
}

// devices returns the instance's devices.
func (f *fakeRuntime) devices(name string) map[string]map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in, ok := f.instances[name]; ok {
		return in.spec.Devices
	}
	return nil
}
