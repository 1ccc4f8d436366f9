package store

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/embedded"
)

// t0 and primaryAddr are the tests' origin of time and their service's
// primary address.
var (
	t0          = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	primaryAddr = netip.MustParseAddr("10.200.0.11")
)

// closedRecord runs a manual warm failover without confirm or fence to its
// end and returns the service's record, its incident closed.
func closedRecord(t *testing.T) recover.Record {
	t.Helper()
	pb, err := playbooks.Default("warm")
	if err != nil {
		t.Fatal(err)
	}
	m := recover.New(recover.Config{Service: recover.Service{Name: "web", VM: "web-vm", Address: primaryAddr, Standby: "standby-1",
		Confirm: "none", Fence: "none"}, Playbook: pb, Epoch: 1})
	acts, err := m.Step(recover.Trigger{At: t0, Source: recover.FromCLI})
	for at := t0; err == nil && len(acts) > 0; {
		a, ok := acts[0].(recover.RunStep)
		if !ok {
			t.Fatalf("unexpected action %#v", acts[0])
		}
		at = at.Add(time.Second)
		acts, err = m.Step(recover.StepDone{At: at, Incident: a.Incident, Step: a.Index, Attempt: a.Attempt,
			Result: recover.StepResult{Address: netip.MustParseAddr("10.200.1.100")}})
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.Record()
}

// testStore is the contract every Store must keep; it runs against Memory
// and against a real embedded etcd.
func testStore(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("epoch increments", func(t *testing.T) {
		var wg sync.WaitGroup
		got := make(chan uint64, 8)
		for range 8 {
			wg.Go(func() {
				e, err := s.NextEpoch(ctx)
				if err != nil {
					t.Error(err)
				}
				got <- e
			})
		}
		wg.Wait()
		close(got)
		seen := map[uint64]bool{}
		for e := range got {
			if seen[e] || e < 1 || e > 8 {
				t.Errorf("epoch %d repeated or out of 1..8", e)
			}
			seen[e] = true
		}
	})

	rec := recover.New(recover.Config{Service: recover.Service{Name: "web", VM: "web-vm", Address: primaryAddr}}).Record()
	t.Run("save and load round trip", func(t *testing.T) {
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Service != "web" || got[0].State != recover.Primary || got[0].Placement.Address != primaryAddr {
			t.Fatalf("Load = %+v", got)
		}
	})

	t.Run("watch sees placement changes only", func(t *testing.T) {
		cur, ch, err := s.WatchPlacements(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cur) != 1 || cur[0].Where != recover.AtPrimary {
			t.Fatalf("current placements %+v", cur)
		}
		same := rec
		same.Seq = 5 // the record changes, the placement does not
		if err := s.Save(ctx, same); err != nil {
			t.Fatal(err)
		}
		moved := same
		moved.State = recover.OnStandby
		moved.Placement = recover.Placement{Service: "web", Where: recover.AtStandby, Host: "standby-1",
			Address: netip.MustParseAddr("10.200.1.100"), Since: t0, Epoch: 2}
		if err := s.Save(ctx, moved); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-ch:
			if p.Where != recover.AtStandby || p.Address != moved.Placement.Address || !p.Since.Equal(t0) || p.Epoch != 2 {
				t.Errorf("watched %+v, want the standby placement", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no placement change seen")
		}
		select {
		case p, ok := <-ch:
			if ok {
				t.Errorf("unexpected second change %+v", p)
			}
		default:
		}
	})
}

func TestMemStore(t *testing.T) { testStore(t, NewMemory()) }

func TestEtcdStore(t *testing.T) {
	ctx := context.Background()
	e, err := embedded.Start(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := NewEtcd(e.Client, "/t-recover/")
	testStore(t, s)

	// A closed incident lands in the history.
	rec := closedRecord(t)
	if rec.Incident.Open() {
		t.Fatalf("incident still open: %+v", rec.Incident)
	}
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	hist, err := s.History(ctx, "web")
	if err != nil || len(hist) != 1 || hist[0].ID != "web-1" || hist[0].Result != recover.ResultRecovered {
		t.Fatalf("History = %+v, %v", hist, err)
	}
	loaded, err := s.Load(ctx)
	if err != nil || len(loaded) != 1 || loaded[0].Incident.Playbook.Name != "warm" || len(loaded[0].Incident.Steps) != 6 {
		t.Fatalf("Load after save = %+v, %v", loaded, err)
	}
}

// BenchmarkEtcdStoreSave measures one persisted transition (the write that
// precedes every action) against the embedded etcd.
func BenchmarkEtcdStoreSave(b *testing.B) {
	e, err := embedded.Start(context.Background(), embedded.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s := NewEtcd(e.Client, "")
	rec := recover.New(recover.Config{Service: recover.Service{Name: "web", VM: "web-vm", Address: primaryAddr}}).Record()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rec.Seq = i
		if err := s.Save(context.Background(), rec); err != nil {
			b.Fatal(err)
		}
	}
}
