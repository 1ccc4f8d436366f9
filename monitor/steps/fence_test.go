package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/lxd"
)

// fakeHV is one instance in a state; Freeze fails unless it runs (with
// lxd.ErrStopped when it is stopped).
type fakeHV struct {
	state   lxd.State
	freezes int
	states  int
	// stoppedAsError: a stopped instance's freeze fails like any other
	// (an adapter without ErrStopped); the state read decides.
	stoppedAsError bool
	// initExited: a stop is under way and the init is gone (the daemon
	// still says Running); Freeze answers lxd.ErrStopping.
	initExited bool
}

func (h *fakeHV) State(context.Context, string) (lxd.State, error) {
	h.states++
	return h.state, nil
}
func (h *fakeHV) Stop(context.Context, string, time.Duration) error {
	h.state = lxd.State{Status: "Stopped"}
	return nil
}
func (h *fakeHV) Freeze(context.Context, string) error {
	h.freezes++
	if h.initExited {
		return fmt.Errorf("freeze: %w", lxd.ErrStopping)
	}
	if h.state.Status == "Stopped" && !h.stoppedAsError {
		return fmt.Errorf("freeze: %w", lxd.ErrStopped)
	}
	if !h.state.Running && !h.state.Frozen {
		return errors.New("the instance is not running")
	}
	h.state = lxd.State{Status: "Frozen", Frozen: true}
	return nil
}

type oneHV struct{ h *fakeHV }

func (o oneHV) Hypervisor(context.Context, string) (Hypervisor, error) { return o.h, nil }

// TestFreezeFence: a running primary is frozen; one already stopped (a
// vm-stop), being stopped with its init gone, or frozen is fenced too; a
// freeze that fails on an instance in another state is an error naming the
// instance and the hypervisor.
func TestFreezeFence(t *testing.T) {
	for _, tc := range []struct {
		name      string
		state     lxd.State
		asError   bool
		exited    bool
		err       string
		wantReads int // state reads after the freeze
	}{
		{"running", lxd.State{Status: "Running", Running: true}, false, false, "", 0},
		{"frozen", lxd.State{Status: "Frozen", Frozen: true}, false, false, "", 0},
		{"stopped", lxd.State{Status: "Stopped"}, false, false, "", 0},
		{"stopping, init exited", lxd.State{Status: "Running", Running: true}, false, true, "", 0},
		{"stopped, plain error", lxd.State{Status: "Stopped"}, true, false, "", 1},
		{"error state", lxd.State{Status: "Error"}, false, false, `freeze instance "web-vm" on hypervisor "host-a": the instance is not running`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hv := &fakeHV{state: tc.state, stoppedAsError: tc.asError, initExited: tc.exited}
			s := New(Config{Hypervisors: oneHV{hv}})
			err := s.Freeze(context.Background(), "host-a", "web-vm")
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Freeze: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Freeze: %v, want %q", err, tc.err)
			}
			if hv.freezes != 1 {
				t.Errorf("%d freezes, want 1", hv.freezes)
			}
			if hv.states != tc.wantReads {
				t.Errorf("%d state reads, want %d", hv.states, tc.wantReads)
			}
		})
	}
}
