package standby

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/understudy/understudy/standby/config"
)

func TestRunServesAndShutsDown(t *testing.T) {
	certs := newCertSet(t)
	cfg := testConfig(t.TempDir())
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = certs.files()
	rt := newFakeRuntime()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	reload := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, RunOptions{
			Version: "t",
			Connect: func(context.Context, config.Incus) (Runtime, error) { return rt, nil },
			Reload:  reload,
			Serving: func(a net.Addr) { addrc <- a },
		})
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not become ready")
	}
	tlsCfg, err := ClientTLSConfig(certs.path("ca.crt"), certs.path("monitor.crt"), certs.path("monitor.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient("https://"+addr.String(), tlsCfg)
	defer c.Close()
	h, err := c.Health(t.Context())
	if err != nil || !h.Ready || h.Restore != "unavailable: disabled in config" {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	reload <- struct{}{} // SIGHUP path: reload must keep serving
	if _, err := c.Health(t.Context()); err != nil {
		t.Errorf("Health after reload: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not shut down")
	}
}

func TestRunFailsOnConnect(t *testing.T) {
	certs := newCertSet(t)
	cfg := testConfig(t.TempDir())
	cfg.TLS = certs.files()
	boom := errors.New("boom")
	err := Run(t.Context(), cfg, RunOptions{Connect: func(context.Context, config.Incus) (Runtime, error) { return nil, boom }})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the connect error", err)
	}
}
