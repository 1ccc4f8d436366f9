package supervise

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/lxd"
)

// gatedLister is a listing whose requests wait on a gate, counting them.
type gatedLister struct {
	calls atomic.Int32
	gate  chan struct{}
	// running is what a listing reports for "vm" when it is sent.
	running atomic.Bool
}

func (g *gatedLister) list(ctx context.Context) (map[string]lxd.State, error) {
	g.calls.Add(1)
	st := lxd.State{Running: g.running.Load()} // read when sent, as a daemon would
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return map[string]lxd.State{"vm": st}, nil
}

// Probes of one hypervisor that ask together share one listing; a probe
// that asks while a listing is in flight gets the next one, sent after it
// asked, never the one in flight.
func TestStatusBatchSharesListingsAndNeverAnswersFromAnOlderOne(t *testing.T) {
	g := &gatedLister{gate: make(chan struct{})}
	g.running.Store(true)
	b := &statusBatch{list: g.list}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first := make(chan lxd.State, 1)
	go func() { st, _ := b.state(ctx, "vm"); first <- st }()
	for g.calls.Load() != 1 { // the first listing is in flight
		time.Sleep(time.Millisecond)
	}
	g.running.Store(false) // the VM dies while the first listing is out
	var wg sync.WaitGroup
	later := make([]lxd.State, 5)
	for i := range later {
		wg.Go(func() { later[i], _ = b.state(ctx, "vm") })
	}
	time.Sleep(20 * time.Millisecond) // let them queue behind the first listing
	close(g.gate)
	wg.Wait()
	if st := <-first; !st.Running {
		t.Errorf("the first probe got %+v, want the running state its listing saw", st)
	}
	for i, st := range later {
		if st.Running {
			t.Errorf("probe %d asked after the VM died and got running: an answer from a listing sent before it asked", i)
		}
	}
	if n := g.calls.Load(); n != 2 {
		t.Errorf("6 probes sent %d listings, want 2 (one in flight, one for the 5 that waited)", n)
	}
}

// A missing instance is lxd.ErrNotFound; a listing that fails fails every
// probe that shares it.
func TestStatusBatchMissingInstanceAndErrors(t *testing.T) {
	ctx := context.Background()
	b := &statusBatch{list: func(context.Context) (map[string]lxd.State, error) {
		return map[string]lxd.State{"vm": {Running: true}}, nil
	}}
	if _, err := b.state(ctx, "gone"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("missing instance: %v, want lxd.ErrNotFound", err)
	}
	boom := errors.New("api down")
	b = &statusBatch{list: func(context.Context) (map[string]lxd.State, error) { return nil, boom }}
	if _, err := b.state(ctx, "vm"); !errors.Is(err, boom) {
		t.Errorf("failed listing: %v, want its error", err)
	}
}

// A listing that waits behind the one in flight is sent with the latest
// deadline of its callers: a probe that joined late is not cut short by
// the deadline of one that joined early and gave up.
func TestStatusBatchListingTakesTheLatestDeadline(t *testing.T) {
	gate := make(chan struct{})
	var calls atomic.Int32
	b := &statusBatch{list: func(ctx context.Context) (map[string]lxd.State, error) {
		if calls.Add(1) == 1 {
			<-gate // the first listing is slow
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return map[string]lxd.State{"vm": {Running: true}}, nil
	}}
	long, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _, _ = b.state(long, "vm") }() // listing 1, in flight
	for calls.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	shortDone := make(chan struct{})
	go func() { defer close(shortDone); _, _ = b.state(short, "vm") }() // creates listing 2
	time.Sleep(5 * time.Millisecond)
	late := make(chan error, 1)
	go func() { _, err := b.state(long, "vm"); late <- err }() // joins listing 2
	// The early caller's deadline passes while listing 1 is still out.
	<-shortDone
	close(gate)
	if err := <-late; err != nil {
		t.Fatalf("the late caller got %v: listing 2 was sent with the early caller's deadline", err)
	}
}
