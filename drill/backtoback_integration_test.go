package drill_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
)

// TestIntegrationDrillBackToBack runs drills one right after the other, as
// an operator (and make demo) does: no wait between them but the drill's
// own preflight, which is asked again while it refuses, as `understudy
// drill --wait` does. Each drill must recover, with 0 failed through the
// proxy, and leave every service on its primary. It covers what one drill's
// --restore leaves for the next: an incident still finishing, a standby
// container being prepared again, the monitor's counts and confirmations,
// and, with a host-down, the neighbour the fault failed over too.
func TestIntegrationDrillBackToBack(t *testing.T) {
	skipBesideDemo(t) // the sequence has a host-down
	w := newLabWorld(t, labBaseB2B, []string{"b2b-warm", "b2b-cold"}, []string{"warm", "cold"})
	warm, cold := w.services[0], w.services[1]
	seq := []struct {
		kind drill.Kind
		s    labSvc
	}{
		{drill.VMStop, warm}, {drill.VMStop, cold}, {drill.Blackhole, warm}, // the second report of the issue
		{drill.VMStop, warm}, {drill.VMStop, warm}, {drill.VMFreeze, warm},
		{drill.HostDown, warm}, // fails over both: --restore must bring both home
		{drill.VMStop, cold}, {drill.ServiceStop, warm},
	}
	w.ready(t, warm)
	w.ready(t, cold)
	for i, d := range seq {
		if !t.Run(fmt.Sprintf("%d-%s-%s", i, d.kind, d.s.Mode), func(t *testing.T) {
			res := w.drill(t, d.kind, d.s)
			var rep bytes.Buffer
			if err := report.WriteReport(&rep, res); err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", rep.String())
			checkLabResult(t, res, d.s, w.proxyHold)
			checkFaultGone(t, w, d.kind, d.s)
			w.checkAllHome(t)
		}) {
			t.Fatalf("drill %d (%s on %s) failed: the drills after it would only repeat it", i, d.kind, d.s.Name)
		}
	}
}
