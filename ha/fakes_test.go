package ha

import (
	"context"
	"net/netip"
	"slices"
	"sync"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// Hand-written fakes of recover's step interfaces for the takeover test.
// One set is shared by both monitors, as the real agent and DNS are.

var (
	_ executor.Confirmer     = (*fakeAgent)(nil)
	_ executor.Activator     = (*fakeAgent)(nil)
	_ executor.Fencer        = (*fakeWorld)(nil)
	_ executor.HealthChecker = (*fakeWorld)(nil)
	_ executor.DNS           = (*fakeDNS)(nil)
	_ executor.Notifier      = (*fakeWorld)(nil)
	_ executor.Execer        = (*fakeWorld)(nil)
)

// fakeAgent refuses stale epochs like the real agent, and hangs (until its
// context ends) the activations of the epoch in hang.
type fakeAgent struct {
	mu      sync.Mutex
	addr    netip.Addr
	hang    uint64
	started chan uint64 // receives every activation's epoch
	highest uint64
	done    []uint64 // epochs of the activations that took effect
}

func (f *fakeAgent) ConfirmDown(context.Context, recover.Service) (bool, string, error) {
	return true, "primary unreachable", nil
}

func (f *fakeAgent) Activate(ctx context.Context, epoch uint64, _ string) (executor.Activation, error) {
	f.started <- epoch
	if epoch == f.hang {
		<-ctx.Done()
		return executor.Activation{}, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if epoch < f.highest {
		return executor.Activation{}, recover.ErrPermanent
	}
	f.highest = epoch
	f.done = append(f.done, epoch)
	return executor.Activation{Address: f.addr}, nil
}

// fakeDNS is a compare-and-swap record; hang makes the first Replace take
// effect and then hang until its context ends (the monitor dies right after
// the DNS server applied the change).
type fakeDNS struct {
	mu      sync.Mutex
	addrs   []netip.Addr
	applied int
	hang    bool
	started chan struct{}
}

func (f *fakeDNS) Replace(ctx context.Context, _ string, addrs, expect []netip.Addr) error {
	f.mu.Lock()
	if !slices.Equal(f.addrs, expect) {
		f.mu.Unlock()
		return recover.ErrPrecondition
	}
	f.addrs = slices.Clone(addrs)
	f.applied++
	hang := f.hang
	f.hang = false
	f.mu.Unlock()
	if hang {
		f.started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeDNS) Lookup(context.Context, string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.addrs), nil
}

// fakeWorld is the rest: fence, health check, notifications, commands.
type fakeWorld struct {
	mu      sync.Mutex
	fenced  int
	notices []string
}

func (f *fakeWorld) Freeze(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fenced++
	return nil
}

func (f *fakeWorld) ForceStop(context.Context, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fenced++
	return nil
}

func (f *fakeWorld) Check(context.Context, string, netip.Addr) error { return nil }

func (f *fakeWorld) Notify(_ context.Context, _ string, n executor.Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notices = append(f.notices, n.Event+":"+n.Key)
	return nil
}

func (f *fakeWorld) Exec(context.Context, []string, []string) error { return nil }

func (f *fakeAgent) activated() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.done)
}

func (f *fakeDNS) state() ([]netip.Addr, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.addrs), f.applied
}

func (f *fakeWorld) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.notices)
}
