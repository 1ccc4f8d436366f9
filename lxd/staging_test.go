package lxd

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lxc/incus/v6/shared/api"
)

// TestEnsureDuringSwap interleaves the standby agent's Ensure of the
// standby container with each step of a Swap, as another process would:
// while the container's name is missing (after the first rename) Ensure
// creates nothing and says ErrSwapping; once the name is back it finds
// the swapped-in instance. The swap completes either way.
func TestEnsureDuringSwap(t *testing.T) {
	c, f := swapWorld(t)
	ctx := ctxT(t)
	before := f.count("create")
	got := map[int]error{}
	created := map[int]bool{}
	f.afterRename = func(n int) {
		spec := webSpec()
		spec.Name = "web"
		spec.Config = map[string]string{"environment.IPADDR": "10.200.1.20/24"}
		created[n], got[n] = c.Ensure(ctx, spec)
	}
	if err := c.Swap(ctx, "web", "web-sync"); err != nil {
		t.Fatalf("Swap with an Ensure between each rename: %v", err)
	}
	f.afterRename = nil
	if !errors.Is(got[1], ErrSwapping) || created[1] {
		t.Errorf("Ensure between the first and second rename = %v (created %v), want ErrSwapping", got[1], created[1])
	}
	for _, n := range []int{2, 3} {
		if got[n] != nil || created[n] {
			t.Errorf("Ensure after rename %d = %v (created %v), want the swapped-in instance found", n, got[n], created[n])
		}
	}
	if n := f.count("create") - before; n != 0 {
		t.Errorf("%d instances created during the swap, want none", n)
	}
	if d := f.instances["web"].inst.Description; d != "web-sync" {
		t.Errorf("after the swap web holds %q, want the staging copy's content", d)
	}
}

// TestEnsureCreatesWithoutSwap: a missing instance with no aside instance
// is created as before.
func TestEnsureCreatesWithoutSwap(t *testing.T) {
	c, f := testClient(t)
	created, err := c.Ensure(ctxT(t), webSpec())
	if err != nil || !created || !f.has(webSpec().Name) {
		t.Errorf("Ensure = %v, %v; want created", created, err)
	}
}

// stagingWorld holds staging copies and look-alikes: web-sync marked as
// web's, kept by owner a (the one staging copy of a's), app-sync marked
// as app's but kept by b (another inventory's), api-sync unmarked (a
// user's), db-sync marked as web's (a mark under the wrong name) and web
// marked as its own (a live instance left marked).
func stagingWorld(t *testing.T) (*Client, *fakeServer) {
	t.Helper()
	c, f := testClient(t)
	ctx := ctxT(t)
	for name, mark := range map[string][2]string{"web": {"web", "a"}, "web-sync": {"web", "a"}, "app-sync": {"app", "b"}, "api-sync": {}, "db-sync": {"web", "a"}} {
		spec := webSpec()
		spec.Name = name
		spec.Config = map[string]string{}
		if mark[0] != "" {
			spec.Config[StagingOfKey], spec.Config[StagingOwnerKey] = mark[0], mark[1]
		}
		if _, err := c.Ensure(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	return c, f
}

func TestStagingCopiesListsOnlyMarkedCopiesByName(t *testing.T) {
	c, _ := stagingWorld(t)
	got, err := c.StagingCopies(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(x, y StagingCopy) int { return strings.Compare(x.Name, y.Name) })
	if want := []StagingCopy{{Name: "app-sync", Of: "app", Owner: "b"}, {Name: "web-sync", Of: "web", Owner: "a"}}; !slices.Equal(got, want) {
		t.Errorf("StagingCopies = %v, want %v", got, want)
	}
}

func TestDeleteStagingChecksNameMarkAndState(t *testing.T) {
	c, f := stagingWorld(t)
	ctx := ctxT(t)
	for _, live := range []string{"api", "db", "app"} {
		if err := c.DeleteStaging(ctx, live, "a"); !errors.Is(err, ErrNotStaging) {
			t.Errorf("DeleteStaging(%q) by a = %v, want ErrNotStaging", live, err)
		}
	}
	if err := c.DeleteStaging(ctx, "web", "b"); !errors.Is(err, ErrNotStaging) {
		t.Errorf("DeleteStaging(web) by b = %v, want ErrNotStaging (a keeps it)", err)
	}
	f.setStatus("web-sync", api.Running)
	if err := c.DeleteStaging(ctx, "web", "a"); !errors.Is(err, ErrNotStaging) {
		t.Errorf("DeleteStaging of a running copy = %v, want ErrNotStaging", err)
	}
	f.setStatus("web-sync", api.Stopped)
	if err := c.DeleteStaging(ctx, "web", "a"); err != nil {
		t.Fatalf("DeleteStaging(web) = %v", err)
	}
	if err := c.DeleteStaging(ctx, "gone", "a"); err != nil {
		t.Errorf("DeleteStaging of an absent copy = %v, want nil", err)
	}
	for _, name := range []string{"web", "app-sync", "api-sync", "db-sync"} {
		if !f.has(name) {
			t.Errorf("%s was deleted", name)
		}
	}
	if f.has("web-sync") || f.count("delete") != 1 {
		t.Errorf("web-sync present %v, %d deletes; want web-sync alone deleted", f.has("web-sync"), f.count("delete"))
	}
}
