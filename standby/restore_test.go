package standby

import (
	"errors"
	"strings"
	"testing"

	"github.com/understudy/understudy/standby/criuprobe"
)

// wrappedRuntime wraps a runtime the way the integration tests do (they
// count Start calls): the wrapper must still pass SetStateful on, or the
// stateful path is never taken.
type wrappedRuntime struct {
	Runtime
	Checkpointer
}

// newCRIUEnv is a test env whose agent was told CRIU works, over a wrapped fake.
func newCRIUEnv(t *testing.T) *testEnv {
	t.Helper()
	env := newTestEnv(t, nil)
	a, err := NewAgent(t.Context(), testConfig(env.dir), wrappedRuntime{env.rt, env.rt}, AgentOptions{CRIU: criuprobe.Status{Available: true, Version: 40000}})
	if err != nil {
		t.Fatal(err)
	}
	a.Reconcile(t.Context())
	env.agent = a
	return env
}

// TestRestoreModeBookkeepingOverFakeRuntime checks the agent's side of
// restore mode over a fake runtime (no CRIU is involved): prepare starts the
// container once for a stateful checkpoint and leaves it stopped, and
// activation restores from it. The fake refuses stateful work unless the
// agent passed SetStateful(true) through the wrapper.
func TestRestoreModeBookkeepingOverFakeRuntime(t *testing.T) {
	env := newCRIUEnv(t)
	env.prepare(t, env.spec("ckpt", ModeRestore))
	exists, running, starts := env.rt.status("ckpt")
	if !exists || running || starts != 1 {
		t.Fatalf("after prepare: exists=%v running=%v starts=%d; want a stopped container started once for its checkpoint", exists, running, starts)
	}
	act, err := env.agent.Activate(t.Context(), 1, "ckpt")
	if err != nil {
		t.Fatal(err)
	}
	if !act.Restored || act.FallbackReason != "" || act.Phases[0].Name != "restore" {
		t.Errorf("activation = %+v, want a restore", act)
	}
}

// TestFailedRestoreFallsBackToColdStart: a restore that fails at activation
// time cold starts the container instead, and the activation result says
// why (controller's activator carries it to the incident record's fallback).
func TestFailedRestoreFallsBackToColdStart(t *testing.T) {
	env := newCRIUEnv(t)
	env.prepare(t, env.spec("ckpt", ModeRestore))
	env.rt.mu.Lock()
	env.rt.restoreErr = errors.New("criu: vdso: Unexpected rt vDSO area bounds")
	env.rt.mu.Unlock()
	act, err := env.agent.Activate(t.Context(), 1, "ckpt")
	if err != nil {
		t.Fatalf("a failed restore failed the activation: %v", err)
	}
	if act.Restored || act.Phases[0].Name != "start" {
		t.Errorf("activation = %+v, want a cold start", act)
	}
	if want := "cold start: restore failed: criu: vdso: Unexpected rt vDSO area bounds"; act.FallbackReason != want {
		t.Errorf("fallback reason = %q, want %q", act.FallbackReason, want)
	}
	if _, running, _ := env.rt.status("ckpt"); !running {
		t.Error("the container does not run after the fallback")
	}
}

// TestFailedCheckpointPreparesColdAndSaysWhy: a checkpoint that fails at
// prepare leaves the service prepared like cold (stopped), and its
// activation cold starts it with the checkpoint's error as the reason.
func TestFailedCheckpointPreparesColdAndSaysWhy(t *testing.T) {
	env := newCRIUEnv(t)
	env.rt.mu.Lock()
	env.rt.snapshotErr = errors.New("criu dump failed")
	env.rt.mu.Unlock()
	env.prepare(t, env.spec("ckpt", ModeRestore))
	if exists, running, _ := env.rt.status("ckpt"); !exists || running {
		t.Fatalf("after a failed checkpoint: exists=%v running=%v, want a stopped container", exists, running)
	}
	act, err := env.agent.Activate(t.Context(), 1, "ckpt")
	if err != nil {
		t.Fatal(err)
	}
	if act.Restored || !strings.HasPrefix(act.FallbackReason, "cold start: checkpoint failed: ") ||
		!strings.Contains(act.FallbackReason, "criu dump failed") {
		t.Errorf("activation = %+v, want a cold start naming the checkpoint error", act)
	}
}
