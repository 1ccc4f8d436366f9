package coverage

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func load(t *testing.T, path string) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Load(path)
	if err != nil {
		t.Fatalf("Load %s: %v", path, err)
	}
	return inv
}

func history(t *testing.T) Input {
	t.Helper()
	h, err := report.ReadHistory("testdata/drills.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return Input{Drills: h}
}

// TestGolden holds the text and JSON reports of examples/realistic.yaml and
// of the lab fleet's shape (testdata/fleet.yaml) with the testdata drill
// history and every pair of hypervisors. Rewrite with -update.
func TestGolden(t *testing.T) {
	for _, c := range []struct{ name, file string }{
		{"realistic", "../../../examples/realistic.yaml"},
		{"fleet", "testdata/fleet.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := history(t)
			in.Name, in.Inventory, in.Pairs = filepath.Base(c.file), load(t, c.file), true
			r := Compute(in)
			var text bytes.Buffer
			if err := WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/"+c.name+".txt", text.Bytes())
			golden(t, "testdata/"+c.name+".json", append(js, '\n'))
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

// domainOf returns the report's domain of kind and name.
func domainOf(t *testing.T, r Report, kind, name string) Domain {
	t.Helper()
	for _, d := range r.Domains {
		if d.Kind == kind && d.Name == name {
			return d
		}
	}
	t.Fatalf("no %s %s in %+v", kind, name, r.Domains)
	return Domain{}
}

func names[T any](xs []T, name func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, name(x))
	}
	return out
}

func TestFleetHostAFitsBothHostsDoNot(t *testing.T) {
	in := history(t)
	in.Inventory, in.Pairs = load(t, "testdata/fleet.yaml"), true
	r := Compute(in)
	a := domainOf(t, r, KindHypervisor, "host-a")
	if a.Services != 16 || len(a.Recovered) != 16 || len(a.Unprotected) != 0 {
		t.Errorf("host-a: %d services, %d recovered, %d unprotected; want 16, 16, 0", a.Services, len(a.Recovered), len(a.Unprotected))
	}
	both := domainOf(t, r, KindPair, "host-a+host-b")
	got := names(both.Unprotected, func(u Unprotected) string { return u.Service })
	// 12 warm keep their place; of the 12 cold, the 8 of the highest
	// priority fill the 8 free slots and the 3GiB exactly (f21 950 ... f13,
	// f14 at 100 by name); f23 (100, after f14 by name), f15, f16, f24 are
	// refused.
	if want := []string{"f23", "f15", "f16", "f24"}; !reflect.DeepEqual(got, want) {
		t.Errorf("both hosts: unprotected %v, want %v", got, want)
	}
	for _, u := range both.Unprotected {
		if !strings.HasPrefix(u.Reason, "no capacity (needs 1 slot, 0 free") {
			t.Errorf("%s: reason %q, want a slot refusal", u.Service, u.Reason)
		}
	}
	z := domainOf(t, r, KindZone, "az1")
	if len(z.Recovered) != 0 || len(z.Unprotected) != 16 || !strings.Contains(z.Unprotected[0].Reason, "standby standby-1 is in zone az1") {
		t.Errorf("zone az1 (the standby's own zone): %+v", z)
	}
}

func TestExpectedTimesAreTheLastDrillsMedianPerMode(t *testing.T) {
	in := history(t)
	in.Inventory = load(t, "testdata/fleet.yaml")
	r := Compute(in)
	// warm: the last five recovered of seven (the not-recovered one is
	// skipped): 1210 1180 1350 1240 1195 -> 1210; cold: 3420 3610 3380 -> 3420.
	want := map[string]int64{"warm": 1210, "cold": 3420}
	for _, f := range r.Drills {
		w, ok := want[f.Mode]
		switch {
		case !ok && f.MedianMS != nil:
			t.Errorf("%s: median %d, want none", f.Mode, *f.MedianMS)
		case ok && (f.MedianMS == nil || *f.MedianMS != w):
			t.Errorf("%s: median %v, want %d", f.Mode, f.MedianMS, w)
		}
	}
	a := domainOf(t, r, KindHypervisor, "host-a")
	if x := a.Recovered[0]; x.Mode != "warm" || x.ExpectedMS == nil || *x.ExpectedMS != 1210 {
		t.Errorf("first of host-a: %+v, want warm expected 1210 ms", x)
	}
	if x := a.Recovered[len(a.Recovered)-1]; x.Mode != "cold" || x.ExpectedMS == nil || *x.ExpectedMS != 3420 {
		t.Errorf("last of host-a: %+v, want cold expected 3420 ms", x)
	}
}

func TestNoDrillYet(t *testing.T) {
	r := Compute(Input{Inventory: load(t, "testdata/fleet.yaml")})
	x := domainOf(t, r, KindHypervisor, "host-b").Recovered[0]
	if x.ExpectedMS != nil || x.Expected != "no drill yet (warm)" {
		t.Errorf("without drills: %+v", x)
	}
	for _, s := range r.Schemes {
		if s.RTOMS != nil {
			t.Errorf("%s: RTO %d ms without any drill", s.Name, *s.RTOMS)
		}
	}
}

func TestSchemesCountAndCost(t *testing.T) {
	in := history(t)
	in.Inventory = load(t, "testdata/fleet.yaml")
	r := Compute(in)
	want := map[string]struct {
		vms         int
		cost, saved float64
		rto         int64
	}{
		SchemeDedicated: {24, 24 * 417 * 12, 0, 1210},
		SchemeBackup:    {0, 0, 24 * 417 * 12, 7276},
		SchemeShared:    {1, 417 * 12, 23 * 417 * 12, 1210},
	}
	if len(r.Schemes) != 3 {
		t.Fatalf("schemes: %+v", r.Schemes)
	}
	for _, s := range r.Schemes {
		w := want[s.Name]
		if s.StandbyVMs != w.vms || s.CostPerYear == nil || *s.CostPerYear != w.cost || s.RTOMS == nil || *s.RTOMS != w.rto {
			t.Errorf("%s: %+v, want %+v", s.Name, s, w)
		}
		if s.Name != SchemeDedicated && (s.SavedPerYear == nil || *s.SavedPerYear != w.saved) {
			t.Errorf("%s: saved %v, want %v", s.Name, s.SavedPerYear, w.saved)
		}
	}
	if r.Currency != "USD" || !strings.Contains(r.Research, "$15,000") {
		t.Errorf("currency %q, research %q", r.Currency, r.Research)
	}
}

func TestLiveCapacity(t *testing.T) {
	inv := load(t, "testdata/fleet.yaml")
	live := map[string]Placement{}
	for _, s := range inv.Services {
		live[s.Name] = Placement{Where: "primary", Host: s.VM, Prepared: true}
	}
	// f21 (cold, host-b) already failed over and is served from the
	// standby: it takes a slot and 512MiB there now; f01 moved on to a
	// spare; f02's warm container is not prepared (not running).
	live["f21"] = Placement{Where: "standby", Host: "standby-1", Prepared: true}
	live["f01"] = Placement{Where: "spare", Host: "spare-1"}
	live["f02"] = Placement{Where: "primary", Host: "f02-vm"}
	r := Compute(Input{Inventory: inv, Live: live, LiveSource: "https://127.0.0.1:9180"})
	if !strings.Contains(r.Capacity, "https://127.0.0.1:9180") {
		t.Errorf("capacity source %q", r.Capacity)
	}
	a := domainOf(t, r, KindHypervisor, "host-a")
	if a.Services != 15 {
		t.Errorf("host-a: %d services, want 15 (f01 is on a spare)", a.Services)
	}
	// Running: 10 warm prepared (f01 on a spare, f02 not prepared) + f21 = 11
	// slots, 10×256MiB+512MiB = 3GiB; host-a's candidates not running: f02
	// and its 8 cold = 9 more: 20 slots; memory 3GiB + 256MiB + 3GiB > 6GiB.
	got := names(a.Unprotected, func(u Unprotected) string { return u.Service + ": " + u.Reason })
	want := []string{"f16: no capacity (needs 512 MiB, 256 MiB free)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("host-a unprotected %v, want %v", got, want)
	}
	for _, x := range a.Recovered {
		if x.Service == "f02" && (x.Running || x.Expected != "3.4 s (cold, median of 0 drills)" && x.Expected != "no drill yet (cold)") {
			t.Errorf("f02 (warm, not prepared) starts like a cold one: %+v", x)
		}
	}
	b := domainOf(t, r, KindHypervisor, "host-b")
	for _, x := range b.Recovered {
		if x.Service == "f21" && x.Expected != "already served from the standby" {
			t.Errorf("f21: %+v", x)
		}
	}
}

func TestUnprotectedAbove(t *testing.T) {
	in := Input{Inventory: load(t, "testdata/fleet.yaml"), Pairs: true}
	r := Compute(in)
	// Zone az1 takes the standby with it: every host-a service; the pair
	// refuses f23 (100), f15 (60), f16 (20), f24 (10).
	got := r.UnprotectedAbove(800)
	if want := []string{"f01 (priority 900, zone az1: standby standby-1 is in zone az1 and is lost with it)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("above 800: %v, want %v", got, want)
	}
	if got := r.UnprotectedAbove(1000); len(got) != 0 {
		t.Errorf("above 1000: %v", got)
	}
	in.Pairs = false
	in.Inventory.Hypervisors[0].Zone = "az9" // host-a alone in its zone, the standby's az1 now empty
	r = Compute(in)
	if got := r.UnprotectedAbove(0); len(got) != 0 {
		t.Errorf("single hosts and zones: %v, want none unprotected", got)
	}
}

// TestRecoveryPointsLive: with the monitor's copies, each synced service
// gets its copy's age, and the ones older than their max-rpo are listed.
func TestRecoveryPointsLive(t *testing.T) {
	in := Input{Name: "fleet.yaml", Inventory: load(t, "testdata/fleet.yaml"), Copies: map[string]CopyLive{
		"f01": {Age: 4*time.Minute + 12*time.Second, Good: true, Exceeded: true, LastError: "read /var/www: connection refused"},
		"f09": {Age: 90 * time.Second, Good: true},
	}}
	r := Compute(in)
	rp := r.RecoveryPoints
	if !rp.Live || len(rp.Synced) != 2 || len(rp.Unsynced) != 22 {
		t.Fatalf("recovery points %+v, want live, f01 and f09 synced, 22 without sync", rp)
	}
	f01, f09 := rp.Synced[0], rp.Synced[1]
	if f01.Service != "f01" || f01.AgeMS == nil || *f01.AgeMS != 252000 || !f01.Exceeded || f01.MaxRPOMS != 180000 {
		t.Errorf("f01 %+v, want 252 s old, max-rpo 3m (3 × every) exceeded", f01)
	}
	if want := "copy 4m12s old; max-rpo 3m exceeded; last sync failed: read /var/www: connection refused"; f01.Note != want {
		t.Errorf("f01 note %q, want %q", f01.Note, want)
	}
	if f09.Exceeded || f09.Note != "copy 1m30s old" {
		t.Errorf("f09 %+v, want 1m30s old, within its 10m", f09)
	}
	if got := r.RPOExceeded(); len(got) != 1 || !strings.HasPrefix(got[0], "f01 (copy 4m12s old") {
		t.Errorf("RPOExceeded %q, want f01 alone", got)
	}
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recovery points (services[].sync): 2 synced, 1 exceed their max-rpo", "f09      incus   /var/www,/etc/app  5m     10m      copy 1m30s old"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// TestRecoveryPointsNoSyncStatus: a service the monitor reports no sync
// for, and one with no good copy yet, say so instead of an age.
func TestRecoveryPointsNoSyncStatus(t *testing.T) {
	in := Input{Inventory: load(t, "testdata/fleet.yaml"), Copies: map[string]CopyLive{"f09": {Exceeded: true, Blocked: "the service is not on a healthy primary"}}}
	rp := Compute(in).RecoveryPoints
	if p := rp.Synced[0]; p.AgeMS != nil || p.Exceeded || p.Note != "the monitor does not report this service's sync" {
		t.Errorf("f01 %+v", p)
	}
	if p := rp.Synced[1]; p.AgeMS != nil || !p.Exceeded || p.Note != "no good copy yet; max-rpo 10m exceeded; waiting: the service is not on a healthy primary" {
		t.Errorf("f09 %+v", p)
	}
}
