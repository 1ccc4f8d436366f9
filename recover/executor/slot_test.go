package executor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
)

// A trigger records the copy's age the CopyAge hook gives at its moment.
func TestTriggerRecordsTheCopyAge(t *testing.T) {
	synced := t0.Add(-4*time.Minute - 12*time.Second)
	var asked string
	w := newWorldWith(t, nil, func(w *world) {
		w.tune = func(c *Config) {
			c.CopyAge = func(service string, at time.Time) *recover.CopyAge {
				asked = service
				return &recover.CopyAge{SyncedAt: synced, Age: at.Sub(synced), Bytes: 1 << 20, MaxRPO: 3 * time.Minute}
			}
		}
	})
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "3 probes failed"); err != nil {
		t.Fatal(err)
	}
	rec := w.until("with an incident", func(r recover.Record) bool { return r.Incident != nil })
	if asked != "web" {
		t.Errorf("CopyAge asked about %q, want web", asked)
	}
	c := rec.Incident.Copy
	if c == nil || !c.SyncedAt.Equal(synced) || c.Bytes != 1<<20 {
		t.Fatalf("incident copy = %+v, want synced at %v, 1 MiB", c, synced)
	}
	if !c.SyncedAt.Add(c.Age).Equal(rec.Incident.Opened) {
		t.Errorf("copy age %s from %v does not end at the opening %v", c.Age, c.SyncedAt, rec.Incident.Opened)
	}
}

func TestCopyAgeString(t *testing.T) {
	for _, c := range []struct {
		in   *recover.CopyAge
		want string
	}{
		{nil, ""},
		{&recover.CopyAge{}, "no sync had succeeded: served from the standby's image"},
		{&recover.CopyAge{SyncedAt: t0, Age: 4*time.Minute + 12*time.Second + 300*time.Millisecond}, "served from a copy 4m12s old"},
		{&recover.CopyAge{SyncedAt: t0, Age: 5 * time.Minute, MaxRPO: 3 * time.Minute}, "served from a copy 5m0s old (max-rpo 3m0s exceeded)"},
	} {
		if got := c.in.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.in, got, c.want)
		}
	}
}

// Slot shares the migrations' limit: with MaxMigrations 1, a second Slot
// waits until the first is released, and a release twice gives back one.
func TestSlotSharesTheMigrationLimit(t *testing.T) {
	w := newWorld(t, nil)
	release, err := w.exec.Slot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.exec.Slot(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Slot = %v, want ErrBusy", err)
	}
	release()
	release()
	r2, err := w.exec.Slot(context.Background())
	if err != nil {
		t.Fatalf("Slot after release = %v", err)
	}
	if _, err := w.exec.Slot(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("Slot with one held = %v, want ErrBusy (a double release gave back two)", err)
	}
	r2()
}
