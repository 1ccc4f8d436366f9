package drill

import (
	"time"

	"github.com/understudy/understudy/recover"
)

// t0 is the injection of the fixture drills.
var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func at(ms int64) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// fixtureIncident is a recovered incident with every phase.
func fixtureIncident() *IncidentStatus {
	ph := func(name string, ms int64) PhaseStatus { return PhaseStatus{Phase: recover.Phase(name), At: at(ms)} }
	return &IncidentStatus{
		ID: "web-3", Result: "recovered", Source: "monitor", Reason: "3 failed probes", Opened: at(700),
		Phases: []PhaseStatus{
			ph("detected", 700), ph("confirmed", 760), ph("fenced", 800), ph("activating", 805),
			ph("activated", 1100), ph("healthy", 1300), ph("dns-flipped", 1450), ph("on-standby", 1460),
		},
	}
}

// fixtureSamples are three clients per path, one request every 100 ms from
// -1000 to 3000 ms: the primary (10.200.0.11, "web-vm") dies at 300 ms; the
// DNS path fails until the flip at 1450 ms and then reaches the standby
// (10.200.1.100, "web"); the proxy holds its requests and answers them at 1462 ms.
func fixtureSamples(paths ...string) []Sample {
	var out []Sample
	for _, path := range paths {
		for c := range 3 {
			for start := int64(-1000) + int64(c)*30; start < 3000; start += 100 {
				s := Sample{Path: path, Client: c, Start: at(start), Duration: 4 * time.Millisecond, OK: true,
					Addr: "10.200.0.11", Backend: "web-vm"}
				if path == PathProxy {
					s.Addr = "127.0.0.1:8080"
				}
				switch {
				case start < 300:
				case path == PathDNS && start < 1450:
					s.OK, s.Backend, s.Err, s.Duration = false, "", "dial tcp 10.200.0.11:80: connect: no route to host", 1200*time.Millisecond
					if start+1200 > 1450 {
						s.Duration = time.Duration(1450-start) * time.Millisecond
					}
				case path == PathDNS:
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
func fixtureResult() *Result {
	r := &Result{Service: "web", Inject: VMStop, Via: ViaBoth, Mode: "warm", Load: 3, Started: t0}
	analyze(r, t0, timeline{
		samples: fixtureSamples(PathDNS, PathProxy), incident: fixtureIncident(),
		inPlace: at(310), removed: at(3100), primary: "10.200.0.11", body: "web-vm",
	})
	return r
}
