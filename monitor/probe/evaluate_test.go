package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
)

// testPlan: host-a runs web-vm (web: http, agent; shop: tcp, none);
// host-b runs db-vm (db: tcp, agent).
func testPlan() Plan {
	return Plan{
		Timing:      Timing{Interval: time.Second, Timeout: 500 * time.Millisecond, Fails: 3, Passes: 1},
		Hypervisors: []HypervisorSpec{{Name: "host-a", Address: "10.0.0.1"}, {Name: "host-b", Address: "10.0.0.2"}},
		VMs: []VMSpec{
			{Name: "web-vm", Hypervisor: "host-a", Instance: "web-vm", Address: "10.0.1.1"},
			{Name: "db-vm", Hypervisor: "host-b", Instance: "db-vm", Address: "10.0.2.1"},
		},
		Services: []ServiceSpec{
			{Name: "web", VM: "web-vm", Port: 80, Check: KindHTTP, Path: "/", ExpectStatus: 200, Confirm: ConfirmAgent},
			{Name: "shop", VM: "web-vm", Port: 8080, Check: KindTCP, Confirm: ConfirmNone},
			{Name: "db", VM: "db-vm", Port: 5432, Check: KindTCP, Confirm: ConfirmAgent},
		},
	}
}

// harness drives the evaluator synchronously: every confirmation job runs
// at once, in order.
type harness struct {
	t     *testing.T
	m     *Engine
	sink  *sliceSink
	agent *fakeAgent
	clock *clocktest.Fake
}

// newHarness runs testPlan without the settle window: these tests are
// about classification and confirmation, one finding at a time
// (settle_test.go has the window).
func newHarness(t *testing.T, agent Confirmer) *harness {
	t.Helper()
	h := newHarnessFor(t, testPlan(), agent)
	h.m.ev.window = 0
	return h
}

func newHarnessFor(t *testing.T, plan Plan, agent Confirmer) *harness {
	t.Helper()
	h := &harness{t: t, sink: &sliceSink{}, clock: clocktest.NewFake()}
	if a, ok := agent.(*fakeAgent); ok {
		h.agent = a
	}
	m, err := New(plan, Options{
		Probers: Probers(Deps{}), Sink: h.sink, Confirmer: agent, Clock: h.clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	return h
}

func (h *harness) run(jobs []job) {
	ctx := context.Background()
	for _, j := range jobs {
		h.m.ev.settle(ctx, answer{job: j, verdicts: h.m.ev.conf.confirmJob(ctx, j)})
	}
}

// down marks targets down (with err, or a generic error) and settles.
func (h *harness) down(err error, targets ...string) {
	for _, name := range targets {
		if err == nil {
			err = fmt.Errorf("%s fails", name)
		}
		h.run(h.m.ev.observe(context.Background(), change{target: name, up: false, err: err}))
	}
}

// closeWindow lets the settle window pass and confirms what waited in it.
func (h *harness) closeWindow() {
	h.clock.Advance(h.m.ev.window)
	h.run(h.m.ev.wake())
}

func (h *harness) up(targets ...string) {
	for _, name := range targets {
		h.run(h.m.ev.observe(context.Background(), change{target: name, up: true}))
	}
}

// kinds summarises events as "kind(of) services vms".
func kinds(evs []Event) []string {
	var out []string
	for _, e := range evs {
		s := e.Kind.String()
		if e.Of != 0 {
			s += "(" + e.Of.String() + ")"
		}
		out = append(out, fmt.Sprintf("%s %v %v", s, e.Services, e.VMs))
	}
	return out
}

func (h *harness) expect(want ...string) []Event {
	h.t.Helper()
	evs := h.sink.take()
	if got := kinds(evs); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		h.t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	return evs
}

func TestVMDownConfirmedByAgent(t *testing.T) {
	h := newHarness(t, &fakeAgent{})
	h.down(nil, "vm/web-vm/icmp", "service/web")
	evs := h.expect("vm-down [shop web] [web-vm]")
	// A VM running services is confirmed by their checks, not by ICMP: a
	// frozen VM still answers pings from its kernel.
	if !strings.Contains(evs[0].Reason, "confirmed: standby agent: tcp 10.0.1.1:8080 fails too") {
		t.Errorf("reason %q does not say the agent confirmed", evs[0].Reason)
	}
	if !evs[0].At.Equal(h.clock.Now()) {
		t.Errorf("event time %v, want the clock's %v", evs[0].At, h.clock.Now())
	}
	want := []ProbeRequest{
		{Address: "10.0.1.1", Kind: "http", Port: 80, Path: "/", ExpectStatus: 200, TimeoutMS: 500},
		{Address: "10.0.1.1", Kind: "tcp", Port: 8080, TimeoutMS: 500},
	}
	got := h.agent.requests() // asked concurrently: compare in a fixed order
	slices.SortFunc(got, func(a, b ProbeRequest) int { return strings.Compare(a.Kind, b.Kind) })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("agent asked %+v, want %+v", got, want)
	}
	h.up("service/web", "vm/web-vm/icmp")
	h.expect("recovered(vm-down) [shop web] [web-vm]")
}

func TestVMBackBeforeItsService(t *testing.T) {
	h := newHarness(t, &fakeAgent{})
	h.down(nil, "vm/web-vm/icmp", "service/web")
	h.expect("vm-down [shop web] [web-vm]")
	h.up("vm/web-vm/icmp") // the VM answers again, its web service does not yet
	h.expect("recovered(vm-down) [shop] [web-vm]", "service-down [web] [web-vm]")
	h.up("service/web")
	h.expect("recovered(service-down) [web] [web-vm]")
}

func TestDisagreementHoldsAndReconfirms(t *testing.T) {
	agent := &fakeAgent{}
	agent.set("tcp 10.0.2.1:5432", true)
	h := newHarness(t, agent)
	h.down(nil, "vm/db-vm/instance", "service/db")
	h.expect("disagreement(vm-down) [db] [db-vm]")

	h.clock.Advance(time.Second) // before Reconfirm (3 × 1s): not asked again
	if jobs := h.m.ev.tick(context.Background()); len(jobs) != 0 {
		t.Fatalf("asked the agent again %v after a disagreement; want to wait", time.Second)
	}
	h.clock.Advance(2 * time.Second)
	h.run(h.m.ev.tick(context.Background())) // still disagrees: no second Disagreement event
	h.expect()

	agent.set("tcp 10.0.2.1:5432", false)
	h.clock.Advance(3 * time.Second)
	h.run(h.m.ev.tick(context.Background()))
	h.expect("vm-down [db] [db-vm]")
	if n := len(agent.requests()); n != 3 {
		t.Errorf("agent asked %d times, want 3", n)
	}
}

func TestConfirmPolicies(t *testing.T) {
	cases := []struct {
		name   string
		target string
		err    error
		agent  map[string]bool
		want   []string
		asked  []ProbeRequest
	}{
		{
			name: "confirm none skips the agent", target: "service/shop",
			want: []string{"service-down [shop] [web-vm]"}, asked: nil,
		},
		{
			name: "connection failure is confirmed on the port", target: "service/db", err: errors.New("connect: connection refused"),
			want:  []string{"service-down [db] [db-vm]"},
			asked: []ProbeRequest{{Address: "10.0.2.1", Kind: "tcp", Port: 5432, TimeoutMS: 500}},
		},
		{
			name: "agent reaching the port disagrees", target: "service/db", err: errors.New("connect: i/o timeout"),
			agent: map[string]bool{"tcp 10.0.2.1:5432": true},
			want:  []string{"disagreement(service-down) [db] [db-vm]"},
			asked: []ProbeRequest{{Address: "10.0.2.1", Kind: "tcp", Port: 5432, TimeoutMS: 500}},
		},
		{
			// A frozen VM completes TCP handshakes in its kernel: only the
			// service's own HTTP check, run from the agent, agrees.
			name: "an HTTP service is confirmed by its HTTP check", target: "service/web",
			err:   errors.New("GET http://10.0.1.1:80/: context deadline exceeded"),
			agent: map[string]bool{"tcp 10.0.1.1:80": true},
			want:  []string{"service-down [web] [web-vm]"},
			asked: []ProbeRequest{{Address: "10.0.1.1", Kind: "http", Port: 80, Path: "/", ExpectStatus: 200, TimeoutMS: 500}},
		},
		{
			name: "a wrong HTTP status needs no vantage point", target: "service/web",
			err:   fmt.Errorf("GET http://10.0.1.1:80/: status 500, want 200: %w", ErrUnexpectedStatus),
			agent: map[string]bool{"tcp 10.0.1.1:80": true},
			want:  []string{"service-down [web] [web-vm]"}, asked: nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			agent := &fakeAgent{up: c.agent}
			h := newHarness(t, agent)
			h.down(c.err, c.target)
			h.expect(c.want...)
			if got := agent.requests(); !reflect.DeepEqual(got, c.asked) {
				t.Errorf("agent asked %+v, want %+v", got, c.asked)
			}
		})
	}
}

func TestAgentUnreachableIsADisagreement(t *testing.T) {
	h := newHarness(t, &fakeAgent{err: errors.New("dial tcp 10.0.9.9:8443: connection refused")})
	h.down(nil, "vm/db-vm/icmp", "service/db")
	evs := h.expect("disagreement(vm-down) [db] [db-vm]")
	if !strings.Contains(evs[0].Reason, "could not ask") {
		t.Errorf("reason %q does not say the agent could not be asked", evs[0].Reason)
	}
}

func TestNoAgentConfigured(t *testing.T) {
	h := newHarness(t, nil)
	h.down(nil, "service/db")
	evs := h.expect("disagreement(service-down) [db] [db-vm]")
	if !strings.Contains(evs[0].Reason, "no standby agent") {
		t.Errorf("reason %q does not say no agent is configured", evs[0].Reason)
	}
	h.down(nil, "service/shop") // confirm: none still fails over
	h.expect("service-down [shop] [web-vm]")
}

var everything = []string{
	"hypervisor/host-a", "hypervisor/host-b", "vm/web-vm/icmp", "vm/db-vm/icmp",
	"service/web", "service/shop", "service/db",
}

func TestIsolatedWhileAgentSeesPrimaries(t *testing.T) {
	agent := &fakeAgent{}
	agent.set("icmp 10.0.1.1", true)
	agent.set("tcp 10.0.1.1:8080", true)
	agent.set("icmp 10.0.2.1", false)
	h := newHarness(t, agent)
	h.down(nil, everything...)
	evs := h.expect(
		// on the way to "everything down", host-a looked like a host failure
		"disagreement(host-down) [shop web] [web-vm]",
		"isolated [] []",
	)
	if !strings.Contains(evs[0].Reason, "tcp 10.0.1.1:8080 answers") {
		t.Errorf("reason %q does not name the primary the agent still reaches", evs[0].Reason)
	}
	// The monitor sees host-a's side again; host-b is really gone.
	h.up("service/web", "service/shop", "vm/web-vm/icmp")
	h.expect(
		"recovered(isolated) [] []",
		"host-down [db] [db-vm]",
	)
	h.up("hypervisor/host-a")
	h.expect()
}

func TestIsolationRuledOutByAgent(t *testing.T) {
	h := newHarness(t, &fakeAgent{}) // the agent sees every primary fail too
	h.down(nil, everything...)
	h.expect("host-down [shop web] [web-vm]", "host-down [db] [db-vm]")
	h.up("service/db", "vm/db-vm/icmp", "hypervisor/host-b")
	h.expect("recovered(host-down) [db] [db-vm]")
	h.up("service/web", "service/shop", "vm/web-vm/icmp", "hypervisor/host-a")
	h.expect("recovered(host-down) [shop web] [web-vm]")
}

func TestHostIncidentAbsorbsEarlierVMIncident(t *testing.T) {
	h := newHarness(t, &fakeAgent{})
	h.down(nil, "vm/web-vm/icmp", "service/web")
	h.expect("vm-down [shop web] [web-vm]")
	h.down(nil, "hypervisor/host-a")
	h.expect("host-down [shop web] [web-vm]") // no Recovered for the VM: still covered
	h.up("hypervisor/host-a")
	h.expect("vm-down [shop web] [web-vm]")
}

func TestFindingEndingWhileConfirmingEmitsNothing(t *testing.T) {
	h := newHarness(t, &fakeAgent{})
	jobs := h.m.ev.observe(context.Background(), change{target: "service/db", err: errors.New("refused")})
	h.m.ev.observe(context.Background(), change{target: "service/db", up: true})
	h.run(jobs) // the agent's late answer is about a finding that ended
	h.expect()
}

func TestDegradedIsRecordedWithoutAgent(t *testing.T) {
	h := newHarness(t, &fakeAgent{})
	h.down(nil, "hypervisor/host-b")
	h.expect() // not yet: it may be the first of several changes
	h.clock.Advance(3 * time.Second)
	h.run(h.m.ev.tick(context.Background()))
	h.expect("degraded [db] [db-vm]")
	if n := len(h.agent.requests()); n != 0 {
		t.Errorf("agent asked %d times about a degraded host, want 0", n)
	}
	h.up("hypervisor/host-b")
	h.expect("recovered(degraded) [db] [db-vm]")
}
