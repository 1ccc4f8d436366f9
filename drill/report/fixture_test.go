package report

import (
	"time"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/recover"
)

// t0 is the injection of the fixture drills.
var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func at(ms int64) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// fixtureIncident is a recovered incident with every phase.
func fixtureIncident() *drill.IncidentStatus {
	ph := func(name string, ms int64) drill.PhaseStatus {
		return drill.PhaseStatus{Phase: recover.Phase(name), At: at(ms)}
	}
	return &drill.IncidentStatus{
		ID: "web-3", Result: "recovered", Source: "monitor", Reason: "3 failed probes", Opened: at(700),
		Phases: []drill.PhaseStatus{
			ph("detected", 700), ph("confirmed", 760), ph("fenced", 800), ph("activating", 805),
			ph("activated", 1100), ph("healthy", 1300), ph("dns-flipped", 1450), ph("on-standby", 1460),
		},
	}
}

// fixtureSamples are three clients per path, one request every 100 ms from
// -1000 to 3000 ms: the primary (10.200.0.11, "web-vm") dies at 300 ms; the
// DNS path fails until the flip at 1450 ms and then reaches the standby
// (10.200.1.100, "web"); the proxy holds its requests and answers them at 1462 ms.
func fixtureSamples(paths ...string) []drill.Sample {
	var out []drill.Sample
	for _, path := range paths {
		for c := range 3 {
			for start := int64(-1000) + int64(c)*30; start < 3000; start += 100 {
				s := drill.Sample{Path: path, Client: c, Start: at(start), Duration: 4 * time.Millisecond, OK: true,
					Addr: "10.200.0.11", Backend: "web-vm"}
				if path == drill.PathProxy {
					s.Addr = "127.0.0.1:8080"
				}
				switch {
				case start < 300:
				case path == drill.PathDNS && start < 1450:
					s.OK, s.Backend, s.Err, s.Duration = false, "", "dial tcp 10.200.0.11:80: connect: no route to host", 1200*time.Millisecond
					if start+1200 > 1450 {
						s.Duration = time.Duration(1450-start) * time.Millisecond
					}
				case path == drill.PathDNS:
					s.Addr, s.Backend = "10.200.1.100", "web"
				case start < 1460:
					s.Duration, s.Backend = time.Duration(1462-start)*time.Millisecond, "web"
				default:
					s.Backend = "web"
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// fixtureResult is a whole recovered drill over both paths.
func fixtureResult() *drill.Result {
	r := &drill.Result{Service: "web", Inject: drill.VMStop, Via: drill.ViaBoth, Mode: "warm", Load: 3, Started: t0}
	drill.Analyze(r, t0, drill.Timeline{
		Samples: fixtureSamples(drill.PathDNS, drill.PathProxy), Incident: fixtureIncident(),
		InPlace: at(310), Removed: at(3100), Primary: "10.200.0.11", Body: "web-vm",
	})
	return r
}
