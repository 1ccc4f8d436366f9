package lxd

import (
	"errors"
	"testing"

	"github.com/lxc/incus/v6/shared/api"
)

// swapWorld is a stopped "web" (the standby container) and a stopped
// "web-sync" (its staging copy) with marks telling them apart.
func swapWorld(t *testing.T) (*Client, *fakeServer) {
	t.Helper()
	c, f := testClient(t)
	ctx := ctxT(t)
	for _, name := range []string{"web", "web-sync"} {
		spec := webSpec()
		spec.Name = name
		spec.Config = map[string]string{"environment.IPADDR": "10.200.1.20/24", "user.fs": name}
		if _, err := c.Ensure(ctx, spec); err != nil {
			t.Fatal(err)
		}
		f.instances[name].inst.Config["volatile.uuid"] = name + "-uuid"
		f.instances[name].inst.Description = name // stands for its file system
	}
	f.instances["web"].inst.Config["environment.MODE"] = "standby"
	f.instances["web-sync"].inst.Config[StagingOfKey] = "web"
	f.instances["web-sync"].inst.Config[StagingOwnerKey] = "owner"
	return c, f
}

func TestSwap(t *testing.T) {
	c, f := swapWorld(t)
	if err := c.Swap(ctxT(t), "web", "web-sync"); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	live, staging := f.instances["web"].inst, f.instances["web-sync"].inst
	if live.Description != "web-sync" || staging.Description != "web" {
		t.Errorf("after the swap web holds %q, web-sync %q; want them exchanged", live.Description, staging.Description)
	}
	if live.Config["environment.MODE"] != "standby" || live.Config["user.fs"] != "web" || live.Config["volatile.uuid"] != "web-sync-uuid" {
		t.Errorf("new live config = %v, want the old live's with its own volatile keys", live.Config)
	}
	if f.has("web" + swapSuffix) {
		t.Error("the temporary name is left")
	}
	if live.Config[StagingOfKey] != "" || live.Config[StagingOwnerKey] != "" || staging.Config[StagingOfKey] != "web" || staging.Config[StagingOwnerKey] != "owner" {
		t.Errorf("staging marks: web %v, web-sync %v; want none on web and web's, by owner, on web-sync", live.Config, staging.Config)
	}
}

func TestSwapRenamesBackOnFailure(t *testing.T) {
	for n := 1; n <= 3; n++ {
		c, f := swapWorld(t)
		f.failRename = n
		if err := c.Swap(ctxT(t), "web", "web-sync"); err == nil {
			t.Fatalf("rename %d fails: Swap = nil", n)
		}
		if !f.has("web") || !f.has("web-sync") || f.has("web"+swapSuffix) {
			t.Fatalf("rename %d fails: instances %v, want web and web-sync only", n, names(f))
		}
		if d := f.instances["web"].inst.Description; d != "web" {
			t.Errorf("rename %d fails: web holds %q, want its old content", n, d)
		}
		if got := f.instances["web"].inst.Config[StagingOfKey]; got != "" {
			t.Errorf("rename %d fails: web keeps the staging mark %q", n, got)
		}
		if got := f.instances["web-sync"].inst.Config["user.fs"]; got != "web-sync" {
			t.Errorf("rename %d fails: staging config user.fs = %q, want its own back", n, got)
		}
	}
}

func TestSwapRefusesARunningInstance(t *testing.T) {
	c, f := swapWorld(t)
	if err := c.Start(ctxT(t), "web"); err != nil {
		t.Fatal(err)
	}
	if err := c.Swap(ctxT(t), "web", "web-sync"); !errors.Is(err, ErrTargetRunning) {
		t.Errorf("Swap with a running live instance = %v, want ErrTargetRunning", err)
	}
	if f.status("web") != api.Running || f.count("rename") != 0 {
		t.Errorf("a refused swap renamed %d times", f.count("rename"))
	}
}

func names(f *fakeServer) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.instances {
		out = append(out, n)
	}
	return out
}
