package monitorapi

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/api"
)

// A service whose failover waits for room on its standby shows why as its
// state.
func TestPrintStatusShowsUnprotected(t *testing.T) {
	st := api.Status{Services: []api.ServiceStatus{
		{Service: "big", State: "stuck", Where: "primary", Host: "vm1", Unprotected: "no capacity (needs 512 MiB, 128 MiB free)"},
		{Service: "web", State: "on-standby", Where: "standby", Host: "sb"},
	}}
	var b strings.Builder
	if err := PrintStatus(&b, st, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"big unprotected: no capacity (needs 512 MiB, 128 MiB free) primary/vm1", "web on-standby standby/sb"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
}
