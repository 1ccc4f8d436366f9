package standby

import (
	"context"
	"testing"
	"time"

	incus "github.com/lxc/incus/v6/client"

	"github.com/understudy/understudy/standby/config"
)

// TestIntegrationFairShare runs two services on the lab's standby-1 and
// checks that the agent sets their live limits.cpu.allowance and
// limits.memory by priority when the second arrives, and puts them back when
// it leaves. Instances t-fair-*, addresses 10.200.1.130-139.
func TestIntegrationFairShare(t *testing.T) {
	const mib = 1 << 20
	la := startLabAgent(t, func(c *config.Config) {
		c.Network.Pool = "10.200.1.130-10.200.1.139"
		c.Capacity = config.Capacity{Containers: 10, Memory: 1024 * mib}
	})
	ctx := t.Context()
	srv, err := incus.ConnectIncusUnix(la.lab.Standby.Socket, nil)
	if err != nil {
		t.Fatalf("connect to standby-1: %v", err)
	}
	t.Cleanup(srv.Disconnect)
	limits := func(name string) (string, string) {
		t.Helper()
		inst, _, err := srv.GetInstance(name)
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		return inst.Config["limits.cpu.allowance"], inst.Config["limits.memory"]
	}
	// await polls (bounded) until name's limits are cpu and mem.
	await := func(name, cpu, mem string) time.Duration {
		t.Helper()
		start := time.Now()
		for i := 0; i < 200; i++ {
			if c, m := limits(name); c == cpu && m == mem {
				return time.Since(start)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c, m := limits(name)
		t.Fatalf("%s: limits.cpu.allowance %q limits.memory %q, want %q %q", name, c, m, cpu, mem)
		return 0
	}

	specs := []ServiceSpec{
		la.fairService(t, "t-fair-hi", 300),
		la.fairService(t, "t-fair-lo", 100),
	}
	for _, s := range specs {
		if _, err := la.client.Prepare(ctx, 1, s); err != nil {
			t.Fatalf("prepare %s: %v", s.Name, err)
		}
	}
	before, _ := limits("t-fair-hi")
	if _, err := la.client.Activate(ctx, 1, "t-fair-hi"); err != nil {
		t.Fatal(err)
	}
	act, err := la.client.Activate(ctx, 1, "t-fair-lo")
	if err != nil {
		t.Fatal(err)
	}
	took := await("t-fair-hi", "75%", "736MiB") // 64 MiB reserved + 3/4 of the 896 MiB left
	await("t-fair-lo", "25%", "288MiB")
	t.Logf("limits applied %s after the second activation returned (allowance before: %q)", took, before)
	if body := httpGet(t, act.Address); body != "t-fair-lo" {
		t.Errorf("t-fair-lo answered %q while sharing", body)
	}
	c, err := la.client.Capacity(ctx)
	if err != nil || len(c.Shares) != 2 {
		t.Fatalf("capacity shares = %+v, %v", c.Shares, err)
	}
	t.Logf("capacity shares: %+v", c.Shares)

	if _, err := la.client.Deactivate(ctx, 1, "t-fair-lo"); err != nil {
		t.Fatal(err)
	}
	await("t-fair-hi", "100%", "64MiB") // alone again: its prepared limits
	await("t-fair-lo", "100%", "64MiB")
	if _, err := la.client.Deactivate(ctx, 1, "t-fair-hi"); err != nil {
		t.Fatal(err)
	}
}

// fairService returns a cold spec for a t-fair-* container and removes the
// container at the end (retrying while a config update still runs).
func (la *labAgent) fairService(t testing.TB, name string, priority int) ServiceSpec {
	t.Helper()
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		for try := 0; try < 5; try++ {
			if err = la.lxd.Delete(ctx, name); err == nil {
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
		t.Errorf("remove %s: %v", name, err)
	}
	cleanup() // a leftover of an interrupted run
	t.Cleanup(cleanup)
	return ServiceSpec{Name: name, Image: la.lab.Image, Mode: ModeCold, Port: 80, Memory: 64 << 20, Priority: priority}
}
