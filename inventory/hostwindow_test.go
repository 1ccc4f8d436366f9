package inventory_test

import (
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// TestHostWindow: monitor.host-window defaults to interval + timeout, 0s
// turns it off, and a negative or huge one is refused with its place.
func TestHostWindow(t *testing.T) {
	inv, err := inventory.Load(editedMinimal(t))
	if err != nil {
		t.Fatal(err)
	}
	if m := inv.Monitor; m.HostWindow != m.Interval+m.Timeout {
		t.Errorf("default host-window %s, want interval %s + timeout %s", m.HostWindow, m.Interval, m.Timeout)
	}
	inv, err = inventory.Load(editedMinimal(t, "monitor:\n", "monitor:\n  host-window: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Monitor.HostWindow != 0 {
		t.Errorf("host-window: 0s = %s, want 0 (off)", inv.Monitor.HostWindow)
	}
	_, err = inventory.Load(editedMinimal(t, "monitor:\n", "monitor:\n  host-window: 2m\n"))
	if err == nil || !strings.Contains(err.Error(), "monitor.host-window: must be from 0s (off) to 1m, got 2m0s") {
		t.Errorf("host-window: 2m: %v", err)
	}
}
