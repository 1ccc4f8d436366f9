package lxd

import "testing"

// Statuses reads every container's status in one request, as State reads
// one.
func TestStatuses(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	web, api := webSpec(), webSpec()
	api.Name = "api"
	for _, s := range []InstanceSpec{web, api} {
		if _, err := c.Ensure(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	before := f.count("state")
	all, err := c.Statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || !all["web"].Running || all["web"].Status != "Running" || all["api"].Running || all["api"].Status != "Stopped" {
		t.Errorf("Statuses = %+v, want web running and api stopped", all)
	}
	if n := f.count("list"); n != 1 {
		t.Errorf("Statuses made %d list requests, want 1", n)
	}
	if n := f.count("state") - before; n != 0 {
		t.Errorf("Statuses made %d state requests, want none", n)
	}
}
