package drill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// neighbourWorld adds a second service, api, to the fake world, on the same
// hypervisor: while the fault is in place the monitor fails it over too and
// fences its primary, as it does for a host-down.
type neighbourWorld struct {
	*fakeWorld
	hv      *fakeHV
	apiPort int
	mu      sync.Mutex
	apiAt   string // api's state in the monitor
	resets  []string
}

func newNeighbourWorld(t *testing.T) *neighbourWorld {
	w := &neighbourWorld{fakeWorld: newFakeWorld(t), hv: &fakeHV{}, apiAt: "primary"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.apiPort = l.Addr().(*net.TCPAddr).Port
	serve(t, l, http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		w.hv.mu.Lock()
		up := w.hv.get("api-vm").Running
		w.hv.mu.Unlock()
		if !up {
			http.Error(rw, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "api-vm")
	}))
	return w
}

func (w *neighbourWorld) neighbour() Neighbour {
	return Neighbour{Service: "api", FQDN: "api.lab.test.", Port: w.apiPort,
		Primary: Target{Instance: "api-vm", Address: netip.MustParseAddr("127.0.0.1")}}
}

// Service is the fake monitor of both services: whenever it is asked while
// the fault is in place, api fails over too.
func (w *neighbourWorld) Service(ctx context.Context, name string) (ServiceStatus, error) {
	w.fakeWorld.mu.Lock()
	broken := w.fakeWorld.broken
	w.fakeWorld.mu.Unlock()
	w.mu.Lock()
	if broken && w.apiAt == "primary" {
		w.apiAt = "on-standby"
		if err := w.hv.Stop(ctx, "api-vm", 0); err != nil { // the monitor's fence
			w.mu.Unlock()
			return ServiceStatus{}, err
		}
	}
	api := ServiceStatus{Service: "api", State: w.apiAt, Standby: StandbyStatus{Prepared: true}}
	w.mu.Unlock()
	if name != "api" {
		return w.fakeWorld.Service(ctx, name)
	}
	return api, nil
}

func (w *neighbourWorld) Reset(ctx context.Context, name, reason string) error {
	w.mu.Lock()
	w.resets = append(w.resets, name)
	w.mu.Unlock()
	if name != "api" {
		return w.fakeWorld.Reset(ctx, name, reason)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.apiAt == "primary" {
		return errors.New("already on its primary")
	}
	w.apiAt = "primary"
	return nil
}

func (w *neighbourWorld) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	if name == "api.lab.test." {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.apiAt != "primary" {
			return []netip.Addr{netip.MustParseAddr("10.200.1.101")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return w.fakeWorld.Lookup(ctx, name)
}

// TestRestoreBringsHomeEveryServiceTheFaultTouched: after a host-down the
// monitor had failed over the drilled service and its neighbour on the
// same hypervisor; --restore brings both home (it used to restore only the
// drilled one and leave the neighbour on the standby with its VM stopped).
func TestRestoreBringsHomeEveryServiceTheFaultTouched(t *testing.T) {
	w := newNeighbourWorld(t)
	cfg := w.config()
	cfg.Kind, cfg.Restore, cfg.Neighbours = HostDown, true, []Neighbour{w.neighbour()}
	d := w.deps()
	d.Monitor, d.DNS, d.Hypervisor = w, w, w.hv
	res, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatalf("Run: %v (notes %v)", err, res.Notes)
	}
	if !res.Restored {
		t.Fatalf("not restored: %v", res.Notes)
	}
	st, err := w.Service(context.Background(), "api")
	if err != nil || st.State != "primary" {
		t.Errorf("api is %q (%v) after --restore, want primary", st.State, err)
	}
	if got := w.hv.get("api-vm"); !got.Running {
		t.Errorf("api-vm is %q after --restore, want running", got.Status)
	}
	if strings.Join(w.resets, ",") != "web,api" {
		t.Errorf("resets %v, want web then api", w.resets)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), `touched "api"`) {
		t.Errorf("notes %v do not say api was restored too", res.Notes)
	}
}

// TestRestoreLeavesNeighboursOfOtherFaults: a fault of one VM touches no
// neighbour, so --restore asks nothing about them.
func TestRestoreLeavesNeighboursOfOtherFaults(t *testing.T) {
	w := newNeighbourWorld(t)
	cfg := w.config()
	cfg.Restore, cfg.Neighbours = true, []Neighbour{w.neighbour()}
	d := w.deps()
	d.Hypervisor = w.hv
	if _, err := Run(context.Background(), cfg, d); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls := strings.Join(w.hv.calls, ","); strings.Contains(calls, "api-vm") {
		t.Errorf("hypervisor calls %s: a vm-stop restore touched the neighbour", calls)
	}
}

// TestRestoreBringsHomeTheServicesOfTheDrilledVM: a vm-stop takes down
// every service on the VM, so --restore brings home the neighbour on the
// same VM too (it used to restore only the drilled service and leave the
// other on the standby).
func TestRestoreBringsHomeTheServicesOfTheDrilledVM(t *testing.T) {
	w := newNeighbourWorld(t)
	cfg := w.config()
	n := w.neighbour()
	n.SameVM = true
	cfg.Restore, cfg.Neighbours = true, []Neighbour{n}
	d := w.deps()
	d.Monitor, d.DNS, d.Hypervisor = w, w, w.hv
	res, err := Run(context.Background(), cfg, d)
	if err != nil || !res.Restored {
		t.Fatalf("Run: %v, restored %v (notes %v)", err, res != nil && res.Restored, res.Notes)
	}
	if st, err := w.Service(context.Background(), "api"); err != nil || st.State != "primary" {
		t.Errorf("api is %q (%v) after --restore, want primary", st.State, err)
	}
	if strings.Join(w.resets, ",") != "web,api" {
		t.Errorf("resets %v, want web then api", w.resets)
	}
}

// TestTouched: which neighbours each kind of fault fails over with the
// drilled service.
func TestTouched(t *testing.T) {
	cfg := Config{Service: "web", Neighbours: []Neighbour{
		{Service: "web-img", SameVM: true}, {Service: "api"},
	}}
	for kind, want := range map[Kind]string{
		HostDown: "web,web-img,api", VMStop: "web,web-img", VMFreeze: "web,web-img",
		Blackhole: "web,web-img", ServiceStop: "web",
	} {
		cfg.Kind = kind
		var got []string
		for _, c := range cfg.touched() {
			got = append(got, c.Service)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s touches %v, want %s", kind, got, want)
		}
	}
}

// TestRestoreWaitsForASteadyPrimary: the restarted primary answers once,
// then stalls; the restore resets the service only after the primary has
// answered for RestoreSettle in a row (a reset at its first answer let the
// monitor fail it over again at once).
func TestRestoreWaitsForASteadyPrimary(t *testing.T) {
	w := newFakeWorld(t)
	w.stall = 3
	cfg := w.config()
	cfg.Restore, cfg.RestoreSettle = true, 300*time.Millisecond
	res, err := Run(context.Background(), cfg, w.deps())
	if err != nil || !res.Restored {
		t.Fatalf("Run: %v, restored %v", err, res != nil && res.Restored)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stall != 0 || w.stalledAt.IsZero() {
		t.Fatalf("the primary stalled %d times too few: the restore did not check it again", w.stall)
	}
	if gap := w.resetAt.Sub(w.stalledAt); gap < cfg.RestoreSettle {
		t.Errorf("reset %v after the primary's last failure, want at least %v", gap, cfg.RestoreSettle)
	}
}
