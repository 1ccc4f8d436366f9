package coverage

import (
	"fmt"

	"github.com/understudy/understudy/inventory"
)

// The standby schemes the report compares.
const (
	SchemeDedicated = "dedicated-warm-standby"
	SchemeBackup    = "vm-restore-from-backup"
	SchemeShared    = "understudy-shared-standby"
)

// ResearchCost is the research's own cost figure, quoted as it gives it
// (VCRecovery, Morikawa and Kourai 2019: the warm standby result).
const ResearchCost = "about $15,000 a year saved for 4 standby VMs -> 1 (the research's figure: VCRecovery, Morikawa and Kourai 2019, slide 17 and its notes: RHEL, 8 vCPUs, 32 GB on Amazon EC2 for one year)"

// ColdShareOfRestore is the research's cold-standby result: containers
// started in a shared standby VM recovered in 47 % of the time of a VM
// restore from backup (VCRecovery, slide 18).
const ColdShareOfRestore = 0.47

// Scheme is one way of keeping standbys for this inventory.
type Scheme struct {
	Name string `json:"name"`
	// StandbyVMs is how many standby VMs run all the time.
	StandbyVMs int `json:"standby_vms"`
	// RTOMS is the expected recovery time; nil when no drill gives it.
	RTOMS *int64 `json:"rto_ms"`
	// RTO says the expected recovery time in words, Source where it comes from.
	RTO    string `json:"rto"`
	Source string `json:"rto_source"`
	// CostPerYear is StandbyVMs × cost.vm-month × 12; nil without a price.
	CostPerYear *float64 `json:"cost_per_year"`
	// SavedPerYear is what the scheme saves against a dedicated warm
	// standby per VM; nil without a price.
	SavedPerYear *float64 `json:"saved_per_year,omitempty"`
}

// schemes counts the standby VMs of each scheme for inv and their RTO.
func schemes(inv *inventory.Inventory, figs []ModeFigure) ([]Scheme, string) {
	primaries, standbys := map[string]bool{}, map[string]bool{}
	for _, s := range inv.Services {
		primaries[s.VM] = true
		standbys[s.Standby] = true
	}
	warm, nWarm := figure(figs, inventory.ModeWarm)
	cold, nCold := figure(figs, inventory.ModeCold)

	dedicated := Scheme{Name: SchemeDedicated, StandbyVMs: len(primaries),
		Source: "the research: recovery time about the same as understudy's warm standby (VCRecovery, slide 17); the figure is understudy's warm drills"}
	backup := Scheme{Name: SchemeBackup, StandbyVMs: 0,
		Source: fmt.Sprintf("the research: cold containers recovered in %.0f %% of a VM restore's time (VCRecovery, slide 18); the figure is understudy's cold drills ÷ %.2f; the backups' storage is not counted", ColdShareOfRestore*100, ColdShareOfRestore)}
	shared := Scheme{Name: SchemeShared, StandbyVMs: len(standbys), Source: "understudy's drills (median of the last runs per mode)"}

	if warm != nil {
		dedicated.RTOMS = warm
		dedicated.RTO = "about " + Millis(*warm)
	} else {
		dedicated.RTO = "about understudy's warm RTO (no warm drill yet)"
	}
	if cold != nil {
		v := int64(float64(*cold) / ColdShareOfRestore)
		backup.RTOMS = &v
		backup.RTO = "about " + Millis(v)
	} else {
		backup.RTO = "longer than understudy's cold RTO by 1/0.47 (no cold drill yet)"
	}
	shared.RTO = fmt.Sprintf("warm %s, cold %s", modeText(warm, nWarm), modeText(cold, nCold))
	switch {
	case warm != nil:
		shared.RTOMS = warm
	case cold != nil:
		shared.RTOMS = cold
	}
	out := []Scheme{dedicated, backup, shared}
	if inv.Cost.VMMonth <= 0 {
		return out, ""
	}
	for i := range out {
		c := float64(out[i].StandbyVMs) * inv.Cost.VMMonth * 12
		saved := float64(dedicated.StandbyVMs-out[i].StandbyVMs) * inv.Cost.VMMonth * 12
		out[i].CostPerYear = &c
		if i > 0 {
			out[i].SavedPerYear = &saved
		}
	}
	return out, inv.Cost.Currency
}

func modeText(ms *int64, n int) string {
	if ms == nil {
		return "no drill yet"
	}
	return fmt.Sprintf("%s (median of %d)", Millis(*ms), n)
}
