package lxd

import (
	"errors"
	"testing"

	"github.com/lxc/incus/v6/shared/api"
)

// refreshWorld is a running source "web" on one fake and an empty target.
func refreshWorld(t *testing.T) (c *Client, src *fakeServer, dst *Client, dstFake *fakeServer) {
	t.Helper()
	c, src = testClient(t)
	dstFake = newFake()
	dst = newClient(dstFake, "standby")
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	return c, src, dst, dstFake
}

func TestRefreshCreatesThenRefreshesWithoutStoppingTheSource(t *testing.T) {
	c, src, dst, dstFake := refreshWorld(t)
	ctx := ctxT(t)
	opts := RefreshOptions{TargetName: "web-sync", Config: map[string]string{"environment.IPADDR": "10.200.1.20/24"}}
	res, err := c.Refresh(ctx, dst, "web", opts)
	if err != nil {
		t.Fatalf("first Refresh: %v", err)
	}
	if !res.Created || res.SentBytes != -1 {
		t.Errorf("first Refresh = %+v, want created, bytes not counted", res)
	}
	if got := dstFake.instances["web-sync"].inst.Config["environment.IPADDR"]; got != "10.200.1.20/24" {
		t.Errorf("created copy's IPADDR = %q, want the override", got)
	}
	// The staging copy keeps its config on the second refresh.
	dstFake.instances["web-sync"].inst.Config["user.kept"] = "yes"
	res, err = c.Refresh(ctx, dst, "web", opts)
	if err != nil {
		t.Fatalf("second Refresh: %v", err)
	}
	if res.Created || dstFake.count("refresh") != 1 {
		t.Errorf("second Refresh = %+v with %d refreshes, want an incremental one", res, dstFake.count("refresh"))
	}
	if dstFake.instances["web-sync"].inst.Config["user.kept"] != "yes" {
		t.Error("the refresh replaced the target's config")
	}
	if src.status("web") != api.Running || src.count("graceful-stop")+src.count("forced-stop") != 0 {
		t.Errorf("source is %s after %d stops, want running and never stopped", src.status("web"), src.count("graceful-stop")+src.count("forced-stop"))
	}
}

func TestRefreshRefusesARunningTarget(t *testing.T) {
	c, _, dst, _ := refreshWorld(t)
	ctx := ctxT(t)
	if _, err := c.Refresh(ctx, dst, "web", RefreshOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dst.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, dst, "web", RefreshOptions{}); !errors.Is(err, ErrTargetRunning) {
		t.Errorf("Refresh into a running target = %v, want ErrTargetRunning", err)
	}
}

func TestRefreshRefusesARunningVM(t *testing.T) {
	c, src, dst, dstFake := refreshWorld(t)
	src.instances["web"].inst.Type = string(api.InstanceTypeVM)
	if _, err := c.Refresh(ctxT(t), dst, "web", RefreshOptions{}); !errors.Is(err, ErrSourceRunningVM) {
		t.Errorf("Refresh of a running VM = %v, want ErrSourceRunningVM", err)
	}
	if dstFake.has("web") {
		t.Error("a refused refresh left a target")
	}
}

func TestRefreshFailureDeletesOnlyWhatItCreated(t *testing.T) {
	c, _, dst, dstFake := refreshWorld(t)
	ctx := ctxT(t)
	dstFake.failCopy = errors.New("link down")
	if _, err := c.Refresh(ctx, dst, "web", RefreshOptions{}); err == nil || dstFake.has("web") {
		t.Fatalf("failed first Refresh = %v, target left: %v; want an error and no target", err, dstFake.has("web"))
	}
	dstFake.failCopy = nil
	if _, err := c.Refresh(ctx, dst, "web", RefreshOptions{}); err != nil {
		t.Fatal(err)
	}
	dstFake.failCopy = errors.New("link down")
	if _, err := c.Refresh(ctx, dst, "web", RefreshOptions{}); err == nil {
		t.Fatal("failed Refresh returned nil")
	}
	if !dstFake.has("web") {
		t.Error("a failed refresh deleted the existing target")
	}
}

func TestRefreshCapsThroughASharedLimiter(t *testing.T) {
	c, _, dst, dstFake := refreshWorld(t)
	lim := NewLimiter(1 << 20)
	if _, err := c.Refresh(ctxT(t), dst, "web", RefreshOptions{Limiter: lim, Bandwidth: 5}); err != nil {
		t.Fatal(err)
	}
	if dstFake.bandwidth != 1<<20 {
		t.Errorf("copy capped at %d B/s, want the shared limiter's 1 MiB/s", dstFake.bandwidth)
	}
}

func TestRefreshLikeTakesTheStandbysConfig(t *testing.T) {
	c, _, dst, dstFake := refreshWorld(t)
	ctx := ctxT(t)
	standby := webSpec()
	standby.Config = map[string]string{"environment.IPADDR": "10.200.1.21/24"}
	standby.Devices = map[string]map[string]string{"eth0": {"type": "nic", "network": "us-standby-1"}}
	if _, err := dst.Ensure(ctx, standby); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, dst, "web", RefreshOptions{TargetName: "web-sync", Like: "web"}); err != nil {
		t.Fatal(err)
	}
	got := dstFake.instances["web-sync"].inst
	if got.Config["environment.IPADDR"] != "10.200.1.21/24" || got.Devices["eth0"]["network"] != "us-standby-1" || got.Devices["data"] != nil {
		t.Errorf("staging copy: config %v devices %v; want the standby container's", got.Config, got.Devices)
	}
}

func TestRefreshStagingCatchesUpLocallyFirst(t *testing.T) {
	c, _, dst, dstFake := refreshWorld(t)
	ctx := ctxT(t)
	standby := webSpec()
	standby.Config = map[string]string{"environment.IPADDR": "10.200.1.21/24"}
	if _, err := dst.Ensure(ctx, standby); err != nil {
		t.Fatal(err)
	}
	lim := NewLimiter(1 << 20)
	if _, err := c.RefreshStaging(ctx, dst, "web", "web", "web-sync", RefreshOptions{Limiter: lim, Owner: "https://sb1:9443"}); err != nil {
		t.Fatal(err)
	}
	// The local copy made the staging copy like the standby container; the
	// refresh from the primary then kept its config.
	if got := dstFake.instances["web-sync"].inst.Config["environment.IPADDR"]; got != "10.200.1.21/24" {
		t.Errorf("staging IPADDR = %q, want the standby container's", got)
	}
	if got := dstFake.instances["web-sync"].inst.Config; got[StagingOfKey] != "web" || got[StagingOwnerKey] != "https://sb1:9443" {
		t.Errorf("staging copy's marks %q, %q; want web and its owner (the marks DeleteStaging checks)", got[StagingOfKey], got[StagingOwnerKey])
	}
	if dstFake.count("copy") != 2 || dstFake.count("refresh") != 1 {
		t.Errorf("copies %d, refreshes %d; want a local copy, then a refresh", dstFake.count("copy"), dstFake.count("refresh"))
	}
	if dstFake.bandwidth != 1<<20 {
		t.Errorf("the refresh from the primary was capped at %d B/s, want the limiter's", dstFake.bandwidth)
	}
}
