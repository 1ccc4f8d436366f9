package executor

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"github.com/understudy/understudy/recover"
)

// Hand-written fakes of the migration interfaces. They hold state (which
// requests are held, where copies exist) so tests assert on outcomes.

var (
	_ Holder      = (*fakeProxy)(nil)
	_ Migrator    = (*fakeMigrator)(nil)
	_ Deactivator = (*fakeDeactivator)(nil)
)

type fakeProxy struct {
	mu       sync.Mutex
	held     map[string]bool
	holds    int
	releases int
}

func (f *fakeProxy) Hold(_ context.Context, svc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[string]bool{}
	}
	f.held[svc] = true
	f.holds++
	return nil
}

func (f *fakeProxy) Release(_ context.Context, svc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, svc)
	f.releases++
	return nil
}

func (f *fakeProxy) isHeld(svc string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held[svc]
}

// fakeMigrator keeps the copies that exist, by "service@spare".
type fakeMigrator struct {
	mu         sync.Mutex
	addr       netip.Addr // what Copy returns
	fail       error      // Copy fails with it (after leaving a partial copy)
	block      chan struct{}
	started    chan string // receives the service when a copy starts, if set
	copies     map[string]netip.Addr
	calls      int
	running    int
	maxRunning int
	deletes    []string
	how        string // what CopyNoted says of the copy
}

// CopyNoted makes fakeMigrator a NotedMigrator: Copy, and f.how.
func (f *fakeMigrator) CopyNoted(ctx context.Context, svc recover.Service, from, to string) (netip.Addr, string, error) {
	addr, err := f.Copy(ctx, svc, from, to)
	return addr, f.how, err
}

func (f *fakeMigrator) Copy(ctx context.Context, svc recover.Service, _, to string) (netip.Addr, error) {
	f.mu.Lock()
	if f.copies == nil {
		f.copies = map[string]netip.Addr{}
	}
	if _, ok := f.copies[svc.Name+"@"+to]; !ok {
		f.copies[svc.Name+"@"+to] = netip.Addr{} // a partial copy
	}
	f.calls++
	f.running++
	f.maxRunning = max(f.maxRunning, f.running)
	block, started, fail := f.block, f.started, f.fail
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	if started != nil {
		started <- svc.Name
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return netip.Addr{}, ctx.Err()
		}
	}
	if fail != nil {
		return netip.Addr{}, fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.copies[svc.Name+"@"+to] = f.addr
	return f.addr, nil
}

func (f *fakeMigrator) DeleteCopy(_ context.Context, svc recover.Service, on string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.copies, svc.Name+"@"+on)
	f.deletes = append(f.deletes, svc.Name+"@"+on)
	return nil
}

func (f *fakeMigrator) has(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.copies[key]
	return ok
}

func (f *fakeMigrator) copyCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeMigrator) peak() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxRunning
}

type fakeDeactivator struct {
	mu     sync.Mutex
	calls  []string
	epochs []uint64
	fail   error
}

func (f *fakeDeactivator) Deactivate(_ context.Context, epoch uint64, svc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.calls = append(f.calls, svc)
	f.epochs = append(f.epochs, epoch)
	return nil
}

func (f *fakeDeactivator) deactivated() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var errStorageFull = errors.New("storage pool full")
