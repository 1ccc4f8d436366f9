package standby

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/understudy/understudy/standby/config"
)

// A warm container that runs but does not serve is not prepared: Prepare
// answers ErrNotServing after activate-timeout and keeps the container
// running, and the next prepare, once the port answers, succeeds without
// starting it again.
func TestWarmPrepareWaitsUntilTheContainerServes(t *testing.T) {
	env := newTestEnv(t, func(c *config.Config) { c.ActivateTimeout = config.Duration(200 * time.Millisecond) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens on port: the "boot hung"

	spec := env.spec("w", ModeWarm)
	spec.Port = port
	_, err = env.agent.Prepare(t.Context(), spec)
	if !errors.Is(err, ErrNotServing) {
		t.Fatalf("prepare of a warm container that does not serve: %v, want ErrNotServing", err)
	}
	if st, err := env.rt.State(t.Context(), "w"); err != nil || !st.Running {
		t.Fatalf("container after ErrNotServing: %+v, %v; want kept running", st, err)
	}

	// The service now listens (on the test env's listener's port).
	spec.Port = env.port
	st, err := env.agent.Prepare(t.Context(), spec)
	if err != nil || !st.Running {
		t.Fatalf("prepare once the port answers: %+v, %v; want running and no error", st, err)
	}
	if _, _, n := env.rt.status("w"); n != 1 {
		t.Errorf("container started %d times, want once (kept running)", n)
	}
}

// A warm prepare whose caller's deadline is nearer than activate-timeout
// answers ErrNotServing before that deadline and keeps the new container:
// a slow boot is not undone because the caller would give up first.
func TestWarmPrepareAnswersBeforeTheCallersDeadline(t *testing.T) {
	env := newTestEnv(t, func(c *config.Config) { c.ActivateTimeout = config.Duration(time.Minute) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	spec := env.spec("slow", ModeWarm)
	spec.Port = port
	ctx, cancel := context.WithTimeout(t.Context(), serveAnswerMargin+300*time.Millisecond)
	defer cancel()
	_, err = env.agent.Prepare(ctx, spec)
	if !errors.Is(err, ErrNotServing) || ctx.Err() != nil {
		t.Fatalf("prepare = %v (caller's context: %v); want ErrNotServing before the caller's deadline", err, ctx.Err())
	}
	if st, err := env.rt.State(t.Context(), "slow"); err != nil || !st.Running {
		t.Fatalf("container after ErrNotServing: %+v, %v; want kept running", st, err)
	}
}
