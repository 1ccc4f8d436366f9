package standby

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/standby/config"
)

// TestAgentRefusesEpochFromNonMonitorCert: a client certificate of the
// agent's CA that is not a monitor's (an operator's, a proxy's) may read and
// probe, but every request that carries an epoch is refused with 403 before
// the epoch is looked at, so 2^64-1 cannot lock the real monitors out.
func TestAgentRefusesEpochFromNonMonitorCert(t *testing.T) {
	env := newTestEnv(t, nil)
	certs := newCertSet(t)
	srv, monitor := startServer(t, env, certs)
	if err := pki.Issue(certs.dir, certs.dir, "operator", false, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := ClientTLSConfig(certs.path("ca.crt"), certs.path("operator.crt"), certs.path("operator.key"))
	if err != nil {
		t.Fatal(err)
	}
	op := NewClient(srv.URL, tlsCfg)
	t.Cleanup(op.Close)
	ctx := t.Context()

	if _, err := monitor.Prepare(ctx, 1, env.spec("web", ModeCold)); err != nil {
		t.Fatalf("monitor Prepare: %v", err)
	}
	const evil = math.MaxUint64
	spec := env.spec("web", ModeCold)
	spec.Epoch = evil
	calls := map[string]func() error{
		"prepare":    func() error { _, err := op.Prepare(ctx, evil, spec); return err },
		"activate":   func() error { _, err := op.Activate(ctx, evil, "web"); return err },
		"deactivate": func() error { _, err := op.Deactivate(ctx, evil, "web"); return err },
		"delete":     func() error { return op.Delete(ctx, evil, "web") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s with an operator certificate: err = %v, want ErrForbidden", name, err)
		}
	}
	h, err := op.Health(ctx)
	if err != nil {
		t.Fatalf("Health with an operator certificate: %v", err)
	}
	if h.Epoch != 1 {
		t.Errorf("epoch after the refused requests = %d, want 1", h.Epoch)
	}
	if exists, running, _ := env.rt.status("web"); !exists || running {
		t.Errorf("the refused requests changed the container: exists=%v running=%v", exists, running)
	}
	if _, err := monitor.Activate(ctx, 2, "web"); err != nil {
		t.Errorf("the monitor is locked out after the refused requests: %v", err)
	}
}

// TestMonitorNamesConfigurable: tls.monitor-names replaces the default names.
func TestMonitorNamesConfigurable(t *testing.T) {
	env := newTestEnv(t, func(c *config.Config) { c.TLS.MonitorNames = []string{"mon-a"} })
	_, c := startServer(t, env, newCertSet(t)) // presents CN "monitor"
	if _, err := c.Prepare(t.Context(), 1, env.spec("web", ModeCold)); !errors.Is(err, ErrForbidden) {
		t.Errorf("CN monitor with monitor-names [mon-a]: err = %v, want ErrForbidden", err)
	}
}
