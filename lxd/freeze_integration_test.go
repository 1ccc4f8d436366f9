package lxd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// TestIntegrationFreezeFence: each of a row of freezes returns with the
// container Frozen (on the lab's cgroup v1 freezer liblxc answers some
// first freezes a second late; the freeze sent again must still be a
// freeze the daemon confirms), and a freeze during a force stop counts as
// a fence: it freezes, or answers ErrStopped or ErrStopping, never another
// error. The container has no address (t-lxd-fence on standby-1).
func TestIntegrationFreezeFence(t *testing.T) {
	lab := labtest.Require(t)
	c := connectUnix(t, lab.Standby)
	const name = "t-lxd-fence"
	spec := labSpec(lab, name, "", "")
	spec.Config = map[string]string{}
	ensureFresh(t, c, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := c.Freeze(ctx, name); err != nil {
			t.Fatalf("freeze %d: %v", i, err)
		}
		if st, err := c.State(ctx, name); err != nil || !st.Frozen {
			t.Fatalf("freeze %d: state %+v, %v; want Frozen", i, st, err)
		}
		if err := c.Unfreeze(ctx, name); err != nil {
			t.Fatalf("unfreeze %d: %v", i, err)
		}
	}
	for i, after := range []time.Duration{150 * time.Millisecond, 50 * time.Millisecond, 0} {
		stopped := make(chan error, 1)
		go func() { stopped <- c.Stop(ctx, name, 0) }()
		time.Sleep(after)
		err := c.Freeze(ctx, name)
		if err != nil && !errors.Is(err, ErrStopped) && !errors.Is(err, ErrStopping) {
			t.Errorf("freeze %v into a force stop (%d): %v; want it frozen, ErrStopped or ErrStopping", after, i, err)
		}
		if err := <-stopped; err != nil {
			t.Fatalf("force stop %d: %v", i, err)
		}
		assertStatus(t, c, name, "Stopped")
		if err := c.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
}
