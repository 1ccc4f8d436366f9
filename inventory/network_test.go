package inventory_test

import (
	"os"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// TestStandbyIncusAndSpareNetwork: the keys a migration needs, and the
// exact errors for a pool outside the spare's subnet and a bad range.
func TestStandbyIncusAndSpareNetwork(t *testing.T) {
	base, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withKeys := func(pool string) []byte {
		doc := strings.Replace(string(base), "    capacity: {containers: 2, memory: 512MiB}\n",
			"    capacity: {containers: 2, memory: 512MiB}\n    incus: {socket: /run/standby.socket}\n", 1)
		doc = strings.Replace(doc, "    capacity: {containers: 4, memory: 2GiB}\n",
			"    capacity: {containers: 4, memory: 2GiB}\n    network: {gateway: 10.200.2.1, prefix-len: 24, pool: "+pool+"}\n", 1)
		return []byte(doc)
	}
	inv, err := inventory.Parse("valid.yaml", withKeys("10.200.2.100-10.200.2.129"))
	if err != nil {
		t.Fatalf("valid keys refused: %v", err)
	}
	if got := inv.Standby[0].Incus.Socket; got != "/run/standby.socket" {
		t.Errorf("standby incus socket = %q", got)
	}
	if n := inv.Spares[0].Network; n == nil || n.Gateway != "10.200.2.1" || n.PrefixLen != 24 || n.Pool != "10.200.2.100-10.200.2.129" {
		t.Errorf("spare network = %+v", n)
	}
	for pool, want := range map[string]string{
		"10.200.3.100-10.200.3.129": "spares[0].network.pool: 10.200.3.100-10.200.3.129 is not inside 10.200.2.0/24",
		"10.200.2.129-10.200.2.100": `spares[0].network.pool: must be a range FIRST-LAST of IPv4 addresses, got "10.200.2.129-10.200.2.100"`,
	} {
		_, err := inventory.Parse("valid.yaml", withKeys(pool))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("pool %s: error %v, want %q", pool, err, want)
		}
	}
}
