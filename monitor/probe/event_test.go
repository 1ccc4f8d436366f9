package probe

import (
	"context"
	"testing"
)

func TestEventKindNames(t *testing.T) {
	want := map[EventKind]string{
		ServiceDown: "service-down", VMDown: "vm-down", HostDown: "host-down", Isolated: "isolated",
		Recovered: "recovered", Disagreement: "disagreement", Degraded: "degraded", 0: "unknown",
	}
	for k, name := range want {
		if k.String() != name {
			t.Errorf("EventKind(%d).String() = %q, want %q", int(k), k.String(), name)
		}
	}
	for k := range want {
		if got := k.IsFailure(); got != (k == ServiceDown || k == VMDown || k == HostDown) {
			t.Errorf("%v.IsFailure() = %v", k, got)
		}
	}
}

func TestChanSinkReturnsWhenContextEnds(t *testing.T) {
	sink := make(ChanSink) // nobody receives
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink.Emit(ctx, Event{Kind: VMDown}) // must not block
	buffered := make(ChanSink, 1)
	buffered.Emit(context.Background(), Event{Kind: HostDown})
	if ev := <-buffered; ev.Kind != HostDown {
		t.Errorf("received %v, want host-down", ev.Kind)
	}
}

func TestPlanTargets(t *testing.T) {
	got := map[string]Kind{}
	for _, tg := range testPlan().Targets() {
		got[tg.Name] = tg.Kind
	}
	want := map[string]Kind{
		"hypervisor/host-a": KindHypervisor, "hypervisor/host-b": KindHypervisor,
		"vm/web-vm/icmp": KindICMP, "vm/web-vm/instance": KindInstance,
		"vm/db-vm/icmp": KindICMP, "vm/db-vm/instance": KindInstance,
		"service/web": KindHTTP, "service/shop": KindTCP, "service/db": KindTCP,
	}
	if len(got) != len(want) {
		t.Errorf("targets %v, want %v", got, want)
	}
	for name, kind := range want {
		if got[name] != kind {
			t.Errorf("target %s: kind %q, want %q", name, got[name], kind)
		}
	}
}
