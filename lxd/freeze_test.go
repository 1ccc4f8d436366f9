package lxd

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lxc/incus/v6/shared/api"
)

// TestFreezeSentAgain: a freeze whose operation does not end (liblxc's
// second of sleep on a cgroup v1 freezer) is sent again, and the freeze
// that ends first is the answer; a freeze answered at once is sent once.
func TestFreezeSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		slow      int
		wantSends int
	}{
		{"answered at once", 0, 1},
		{"first unanswered", 1, 2},
		{"three unanswered", 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, f := incusClient(t)
				if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
					t.Fatal(err)
				}
				if err := c.Start(ctxT(t), "web"); err != nil {
					t.Fatal(err)
				}
				f.slowFreezes = tc.slow
				if err := c.Freeze(ctxT(t), "web"); err != nil {
					t.Fatalf("Freeze: %v", err)
				}
				if n := f.count("freeze"); n != tc.wantSends {
					t.Errorf("%d freezes sent, want %d", n, tc.wantSends)
				}
				if s := f.status("web"); s != api.Frozen {
					t.Errorf("status %s, want Frozen", s)
				}
				if f.cancelled != 0 {
					t.Errorf("%d operations cancelled, want 0 (a freeze cannot be)", f.cancelled)
				}
			})
		})
	}
}

// TestFreezeNeverAnswered: when no freeze ends, Freeze sends freezeSends
// of them and returns the caller's deadline.
func TestFreezeNeverAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := incusClient(t)
		if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctxT(t), "web"); err != nil {
			t.Fatal(err)
		}
		f.slowFreezes = 100
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.Freeze(ctx, "web"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Freeze = %v, want the deadline", err)
		}
		if n := f.count("freeze"); n != freezeSends {
			t.Errorf("%d freezes sent, want %d", n, freezeSends)
		}
	})
}

// TestFreezeStoppedOrStopping: a stopped instance, and one whose init has
// exited during a stop (Incus's "Invalid PID" state read), is refused with
// its sentinel before any freeze is sent, and the state is read once.
func TestFreezeStoppedOrStopping(t *testing.T) {
	for _, tc := range []struct {
		name    string
		running bool
		badPID  int
		want    error
	}{
		{"stopped", false, 0, ErrStopped},
		{"init exited", true, 1, ErrStopping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := incusClient(t)
			if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
				t.Fatal(err)
			}
			if tc.running {
				if err := c.Start(ctxT(t), "web"); err != nil {
					t.Fatal(err)
				}
			}
			f.badPIDStates = tc.badPID
			before := f.count("state")
			if err := c.Freeze(ctxT(t), "web"); !errors.Is(err, tc.want) {
				t.Fatalf("Freeze = %v, want %v", err, tc.want)
			}
			if n := f.count("freeze"); n != 0 {
				t.Errorf("%d freezes sent, want 0", n)
			}
			if n := f.count("state") - before; n != 1 {
				t.Errorf("%d state reads, want 1", n)
			}
		})
	}
}
