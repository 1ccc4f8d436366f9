// Package signals derives the alert conditions of the leader's records
// (unprotected, fence unconfirmed, DNS unverified), exports them with each
// service's state and its standby's preparation at every scrape
// (Collector), and rechecks the dns.verify servers of a DNS change whose
// verification gave up (Rechecker), so that the DNS-unverified signal
// clears once a lagging secondary catches up.
//
// It sees the daemon through two small interfaces, Source (is it running,
// its epoch, the plan's dns.verify and standbys) and Term (the records and
// preparation of the term in force); it never holds the daemon itself.
package signals

import (
	"time"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

// Signals are the alert conditions of one service record. NoCapacity is
// one kind of Unprotected: the failover stopped because the standby had no
// room for it (monitor/admission), and waits for capacity to free.
type Signals struct{ Unprotected, Unfenced, Unverified, NoCapacity bool }

// Of derives a record's alert conditions at now; verify says the inventory
// has dns.verify servers.
func Of(rec recover.Record, verify bool, now time.Time) Signals {
	g := Signals{Unprotected: rec.State == recover.Stuck || now.Before(rec.DampedUntil)}
	inc := rec.Incident
	if inc == nil {
		return g
	}
	if rec.State == recover.Stuck && inc.Kind == recover.KindFailover {
		g.NoCapacity = inc.UnprotectedReason() != ""
	}
	if rec.State != recover.Primary {
		for _, st := range inc.Steps {
			if st.Kind == playbooks.Fence && st.Status == recover.StatusFailed {
				g.Unfenced = true
			}
		}
	}
	if verify {
		pending := false
		for _, ph := range inc.Phases {
			switch ph.Phase {
			case recover.PhaseDNSFlipped, recover.PhaseDNSReset:
				pending = true
			case recover.PhaseVerified:
				pending = false
			}
		}
		g.Unverified = pending
	}
	return g
}
