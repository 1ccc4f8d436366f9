package standby

import (
	"errors"
	"testing"
)

// TestPrepareDuringASyncSwap: while a whole-instance sync's swap holds the
// service's container aside, a prepare creates nothing and fails with
// ErrSwapping, across the wire too; once the swap gave the name back, the
// prepare succeeds on the swapped-in container.
func TestPrepareDuringASyncSwap(t *testing.T) {
	env := newTestEnv(t, nil)
	_, c := startServer(t, env, newCertSet(t))
	spec := env.spec("db", ModeCold)
	env.rt.mu.Lock()
	env.rt.swapping = map[string]bool{"db": true}
	env.rt.mu.Unlock()
	if _, err := c.Prepare(t.Context(), 1, spec); !errors.Is(err, ErrSwapping) {
		t.Fatalf("prepare during the swap = %v, want ErrSwapping", err)
	}
	if exists, _, _ := env.rt.status("db"); exists {
		t.Fatal("a container was created in the swap's window")
	}
	if _, ok := env.agent.store.get("db"); ok {
		t.Error("the refused prepare left a record")
	}
	env.rt.mu.Lock()
	env.rt.swapping = nil
	env.rt.mu.Unlock()
	if _, err := c.Prepare(t.Context(), 1, spec); err != nil {
		t.Errorf("prepare after the swap: %v", err)
	}
}
