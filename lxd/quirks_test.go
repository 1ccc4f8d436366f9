package lxd

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lxc/incus/v6/shared/api"
)

// incusClient is testClient against a fake that reports Incus 6.0.4.
func incusClient(t *testing.T) (*Client, *fakeServer) {
	t.Helper()
	c, f := testClient(t)
	f.server, f.version = "incus", "6.0.4"
	if err := c.detect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return c, f
}

func TestQuirksFor(t *testing.T) {
	for _, tc := range []struct {
		server, version string
		want            quirks
	}{
		{"incus", "6.0.4", quirks{retryBadPID: true}},
		{"lxd", "5.0.2", quirks{readBackCreate: true, retryBusy: true}},
		{"", "", quirks{readBackCreate: true, retryBusy: true}}, // unknown: the safe side
	} {
		if got := quirksFor(ServerInfo{Server: tc.server, Version: tc.version}); got != tc.want {
			t.Errorf("quirksFor(%s %s) = %+v, want %+v", tc.server, tc.version, got, tc.want)
		}
	}
}

func TestDetectRecordsTheServer(t *testing.T) {
	c, _ := incusClient(t)
	if got := c.Server(); got.Server != "incus" || got.Version != "6.0.4" {
		t.Errorf("Server() = %+v, want incus 6.0.4", got)
	}
	if c.quirks != (quirks{retryBadPID: true}) {
		t.Errorf("quirks against Incus = %+v, want only retryBadPID", c.quirks)
	}
}

// The read-back after a create (quirks.readBackCreate) runs against LXD 5.0
// only: there it repairs a create whose config the daemon dropped; against
// Incus the create is trusted and no read follows it.
func TestReadBackCreateOnlyOnLXD(t *testing.T) {
	t.Run("lxd", func(t *testing.T) {
		c, f := testClient(t)
		f.dropConfigCreate = true
		if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
			t.Fatal(err)
		}
		if n := f.count("get"); n != 3 { // the look-up, the swap's aside, then the read-back
			t.Errorf("instance reads = %d, want 3 (look-up, aside and read-back)", n)
		}
		if n := f.count("update"); n != 1 {
			t.Errorf("updates = %d, want 1 (the dropped config applied)", n)
		}
		if got := f.instances["web"].inst.Config["environment.IPADDR"]; got != webSpec().Config["environment.IPADDR"] {
			t.Errorf("IPADDR after Ensure = %q, want %q", got, webSpec().Config["environment.IPADDR"])
		}
	})
	t.Run("incus", func(t *testing.T) {
		c, f := incusClient(t)
		created, err := c.Ensure(ctxT(t), webSpec())
		if err != nil || !created {
			t.Fatalf("Ensure = %v, %v; want created", created, err)
		}
		if n := f.count("get"); n != 2 { // the look-up and the swap's aside only
			t.Errorf("instance reads = %d, want 2 (no read-back)", n)
		}
		if n := f.count("update"); n != 0 {
			t.Errorf("updates = %d, want 0", n)
		}
		if got := f.instances["web"].inst.Config["environment.IPADDR"]; got != webSpec().Config["environment.IPADDR"] {
			t.Errorf("IPADDR after Ensure = %q, want %q", got, webSpec().Config["environment.IPADDR"])
		}
	})
}

// A start LXD refuses as busy is sent again (quirks.retryBusy) until it is
// taken; against Incus the refusal is the answer.
func TestRetryBusyOnlyOnLXD(t *testing.T) {
	t.Run("lxd", func(t *testing.T) {
		c, f := testClient(t)
		if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
			t.Fatal(err)
		}
		f.busyStarts = 2
		if err := c.Start(ctxT(t), "web"); err != nil {
			t.Fatalf("Start while busy twice: %v", err)
		}
		if n := f.count("start"); n != 3 {
			t.Errorf("start requests = %d, want 3 (two refused, one taken)", n)
		}
		if st := f.instances["web"].inst.StatusCode; st != api.Running {
			t.Errorf("status = %v, want Running", st)
		}
	})
	t.Run("incus", func(t *testing.T) {
		c, f := incusClient(t)
		if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
			t.Fatal(err)
		}
		f.busyStarts = 1
		err := c.Start(ctxT(t), "web")
		if err == nil || !api.StatusErrorCheck(err, http.StatusBadRequest) {
			t.Fatalf("Start = %v, want the daemon's 400", err)
		}
		if n := f.count("start"); n != 1 {
			t.Errorf("start requests = %d, want 1 (no retry)", n)
		}
	})
}

// A state read that Incus fails with "Invalid PID" (an init exiting) is sent
// again on Incus (quirks.retryBadPID); against LXD 5.0 the error is returned.
func TestRetryBadPIDOnlyOnIncus(t *testing.T) {
	t.Run("incus", func(t *testing.T) {
		c, f := incusClient(t)
		if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
			t.Fatal(err)
		}
		f.badPIDStates = 2
		before := f.count("state")
		if _, err := c.State(ctxT(t), "web"); err != nil {
			t.Fatalf("State while the init exits twice: %v", err)
		}
		if n := f.count("state") - before; n != 3 {
			t.Errorf("state reads = %d, want 3 (two failed, one answered)", n)
		}
	})
	t.Run("lxd", func(t *testing.T) {
		c, f := testClient(t)
		if _, err := c.Ensure(ctxT(t), webSpec()); err != nil {
			t.Fatal(err)
		}
		f.badPIDStates = 1
		before := f.count("state")
		if _, err := c.State(ctxT(t), "web"); err == nil || !strings.Contains(err.Error(), "Invalid PID") {
			t.Fatalf("State = %v, want the daemon's Invalid PID", err)
		}
		if n := f.count("state") - before; n != 1 {
			t.Errorf("state reads = %d, want 1 (no retry)", n)
		}
	})
}
