package drill

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/understudy/understudy/lxd"
)

var target = Target{Instance: "t-vm", Address: netip.MustParseAddr("10.200.0.170")}

func TestVMFaults(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		kind      Kind
		afterIn   lxd.State
		fence     bool // the monitor stops the instance before the removal
		afterOut  lxd.State
		wantExecs int
	}{
		{VMStop, lxd.State{Status: "Stopped"}, false, lxd.State{Status: "Running", Running: true}, 0},
		{VMFreeze, lxd.State{Status: "Frozen", Frozen: true}, false, lxd.State{Status: "Running", Running: true}, 0},
		{VMFreeze, lxd.State{Status: "Frozen", Frozen: true}, true, lxd.State{Status: "Stopped"}, 0},
		{ServiceStop, lxd.State{Status: "Running", Running: true}, false, lxd.State{Status: "Running", Running: true}, 2},
		{ServiceStop, lxd.State{Status: "Running", Running: true}, true, lxd.State{Status: "Stopped"}, 1},
	}
	for _, tc := range cases {
		name := string(tc.kind)
		if tc.fence {
			name += " fenced"
		}
		t.Run(name, func(t *testing.T) {
			hv := &fakeHV{}
			f, err := NewFault(tc.kind, target, hv, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Inject(ctx); err != nil {
				t.Fatal(err)
			}
			if st, _ := hv.State(ctx, target.Instance); st.Status != tc.afterIn.Status {
				t.Errorf("after Inject: %+v, want %+v", st, tc.afterIn)
			}
			if tc.fence {
				_ = hv.Stop(ctx, target.Instance, 0)
			}
			for range 2 { // Remove is idempotent
				if err := f.Remove(ctx); err != nil {
					t.Fatalf("Remove: %v", err)
				}
			}
			if st, _ := hv.State(ctx, target.Instance); st.Status != tc.afterOut.Status {
				t.Errorf("after Remove: %+v, want %+v", st, tc.afterOut)
			}
			if len(hv.execs) != tc.wantExecs && tc.kind == ServiceStop {
				t.Errorf("execs %v, want %d", hv.execs, tc.wantExecs)
			}
			if tc.kind == ServiceStop && strings.Join(hv.execs[0], " ") != ServiceScript+" stop" {
				t.Errorf("first exec %v, want %s stop", hv.execs[0], ServiceScript)
			}
		})
	}
}

func TestBlackhole(t *testing.T) {
	ctx := context.Background()
	run := newFakeRunner()
	f, err := NewFault(Blackhole, target, nil, run)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(ctx); err != nil {
		t.Fatalf("Remove before Inject: %v", err)
	}
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	chains := map[string]bool{}
	for rule := range run.rules {
		if !strings.Contains(rule, "10.200.0.170") || !strings.HasSuffix(rule, "-j DROP") || !strings.Contains(rule, "understudy-drill") {
			t.Errorf("rule %q does not drop the primary's address with the drill's comment", rule)
		}
		chains[strings.Fields(rule)[0]] = true
		if strings.HasPrefix(rule, "OUTPUT") && !strings.Contains(rule, "-o us-host-a") {
			t.Errorf("OUTPUT rule %q not bound to the bridge", rule)
		}
	}
	for _, c := range []string{"FORWARD", "OUTPUT", "INPUT"} {
		if !chains[c] {
			t.Errorf("no rule in %s: %v", c, run.rules)
		}
	}
	for range 2 {
		if err := f.Remove(ctx); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	if len(run.rules) != 0 {
		t.Errorf("rules left after Remove: %v", run.rules)
	}
}

func TestHostDown(t *testing.T) {
	ctx := context.Background()
	run := newFakeRunner()
	f, _ := NewFault(HostDown, target, nil, run)
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if run.links["us-host-a"] != "down" || !run.routes["10.200.0.0/24"] {
		t.Errorf("bridge %s, routes %v after Inject: want it down and its subnet unreachable", run.links["us-host-a"], run.routes)
	}
	for range 2 {
		if err := f.Remove(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if run.links["us-host-a"] != "up" || len(run.routes) != 0 {
		t.Errorf("bridge %s, routes %v after Remove", run.links["us-host-a"], run.routes)
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
		if _, err := NewFault(k, target, &fakeHV{}, newFakeRunner()); err != nil {
			t.Errorf("NewFault(%q): %v", k, err)
		}
	}
	if _, err := ParseKind("meteor"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("ParseKind(meteor) = %v", err)
	}
	if _, err := ParseVia("carrier-pigeon"); err == nil {
		t.Error("ParseVia accepted carrier-pigeon")
	}
}

// TestServiceStopRunsTheScriptAgainAfterAFailedExec checks that a failed
// exec of the (idempotent) service script is tried again, within a bound,
// in both directions: LXD 5.0's exec sometimes fails on a command that ends
// at once, and a removal that gives up leaves the fault in place.
func TestServiceStopRunsTheScriptAgainAfterAFailedExec(t *testing.T) {
	ctx := context.Background()
	hv := &fakeHV{}
	hv.get(target.Instance)
	hv.set(target.Instance, lxd.State{Status: "Running", Running: true}, "start")
	f, err := NewFault(ServiceStop, target, hv, nil)
	if err != nil {
		t.Fatal(err)
	}
	hv.execFails = 1
	if err := f.Inject(ctx); err != nil {
		t.Fatalf("inject with one failed exec: %v", err)
	}
	hv.execFails = 2
	if err := f.Remove(ctx); err != nil {
		t.Fatalf("remove with two failed execs: %v", err)
	}
	if got := len(hv.execs); got != 5 {
		t.Errorf("%d execs (%v), want 2 for stop and 3 for start", got, hv.execs)
	}
	hv.execFails = serviceExecAttempts
	if err := f.Inject(ctx); err == nil {
		t.Errorf("inject succeeded although every exec failed")
	}
}

// TestServiceStopRunsTheScriptAgainAfterAFailedCheck: a stop whose script
// exits 1 (its last check saw an httpd its SIGKILL had not yet taken) runs
// again; one that exits 1 every time is an error naming the exit.
func TestServiceStopRunsTheScriptAgainAfterAFailedCheck(t *testing.T) {
	ctx := context.Background()
	hv := &fakeHV{}
	hv.get(target.Instance)
	hv.set(target.Instance, lxd.State{Status: "Running", Running: true}, "start")
	f, err := NewFault(ServiceStop, target, hv, nil)
	if err != nil {
		t.Fatal(err)
	}
	hv.execExits1 = 1
	if err := f.Inject(ctx); err != nil {
		t.Fatalf("inject with one exit 1: %v", err)
	}
	if got := len(hv.execs); got != 2 {
		t.Errorf("%d execs (%v), want 2", got, hv.execs)
	}
	hv.execExits1 = serviceExecAttempts
	if err := f.Inject(ctx); err == nil || !strings.Contains(err.Error(), "exited 1") {
		t.Errorf("inject with every script exiting 1: %v, want the exit named", err)
	}
}

// TestServiceStopRemovedByTheFenceStop: a removal whose every exec fails
// because the monitor's force-stop was under way (the daemon said Running)
// counts as removed once the instance is stopped: nothing runs that could
// serve. One still running after the failures is an error.
func TestServiceStopRemovedByTheFenceStop(t *testing.T) {
	ctx := context.Background()
	for _, stops := range []bool{true, false} {
		hv := &fakeHV{}
		hv.get(target.Instance)
		hv.set(target.Instance, lxd.State{Status: "Running", Running: true}, "start")
		f, err := NewFault(ServiceStop, target, hv, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Inject(ctx); err != nil {
			t.Fatal(err)
		}
		hv.execFails, hv.stopAfterFailedExecs = serviceExecAttempts, stops
		err = f.Remove(ctx)
		if stops && err != nil {
			t.Errorf("remove while the fence stopped the primary: %v, want nil", err)
		}
		if !stops && err == nil {
			t.Error("remove with every exec failing on a running primary: nil, want the error")
		}
	}
}

// TestVMFreezeDropsTraffic: with a Runner, vm-freeze emulates a paused VM:
// the primary's traffic is dropped (the blackhole's rules) and it is
// frozen; Remove thaws it and deletes exactly those rules, also when the
// monitor's fence stopped it meanwhile.
func TestVMFreezeDropsTraffic(t *testing.T) {
	ctx := context.Background()
	for _, fenced := range []bool{false, true} {
		hv, run := &fakeHV{}, newFakeRunner()
		f, err := NewFault(VMFreeze, target, hv, run)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Inject(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := hv.State(ctx, target.Instance); !st.Frozen {
			t.Errorf("fenced %v: after Inject: %+v, want frozen", fenced, st)
		}
		if len(run.rules) != 4 {
			t.Errorf("fenced %v: rules after Inject: %v, want the blackhole's 4", fenced, run.rules)
		}
		for rule := range run.rules {
			if !strings.Contains(rule, "10.200.0.170") || !strings.HasSuffix(rule, "-j DROP") {
				t.Errorf("rule %q does not drop the primary's address", rule)
			}
		}
		want := "Running"
		if fenced {
			_ = hv.Stop(ctx, target.Instance, 0)
			want = "Stopped"
		}
		for range 2 {
			if err := f.Remove(ctx); err != nil {
				t.Fatalf("fenced %v: Remove: %v", fenced, err)
			}
		}
		if st, _ := hv.State(ctx, target.Instance); st.Status != want || len(run.rules) != 0 {
			t.Errorf("fenced %v: after Remove: %+v, rules %v; want %s, none", fenced, st, run.rules, want)
		}
	}
}
