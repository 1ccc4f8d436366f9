package plan

import (
	"testing"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/recover"
)

// TestRecordsAndPlacements: the store's records and placements are
// completed with the plan's services (a service without one is on its
// primary) and cut to them (a service the plan dropped is left out).
func TestRecordsAndPlacements(t *testing.T) {
	inv, err := inventory.Parse("test.yaml", []byte(testInventory))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(inv)
	if err != nil {
		t.Fatal(err)
	}
	gone := recover.Record{Service: "gone", State: recover.OnStandby}
	recs := p.Records([]recover.Record{gone})
	if len(recs) != 1 || recs[0].Service != "web" || recs[0].State != recover.Primary {
		t.Errorf("records = %+v, want web new on its primary only", recs)
	}
	stored := recover.Record{Service: "web", State: recover.OnStandby}
	if recs := p.Records([]recover.Record{stored, gone}); len(recs) != 1 || recs[0].State != recover.OnStandby {
		t.Errorf("records = %+v, want web's stored record only", recs)
	}
	pls := p.Placements([]recover.Placement{{Service: "gone", Where: recover.AtStandby}}, 4)
	if len(pls) != 1 || pls[0].Service != "web" || pls[0].Where != recover.AtPrimary || pls[0].Host != "web-vm" || pls[0].Epoch != 4 {
		t.Errorf("placements = %+v, want web on web-vm under epoch 4 only", pls)
	}
	pls = p.Placements([]recover.Placement{{Service: "web", Where: recover.AtStandby, Host: "sb"}}, 4)
	if len(pls) != 1 || pls[0].Where != recover.AtStandby || pls[0].Host != "sb" {
		t.Errorf("placements = %+v, want web's stored placement", pls)
	}
}
