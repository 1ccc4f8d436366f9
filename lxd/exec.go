package lxd

import (
	"bytes"
	"context"
	"fmt"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// ExecResult is the outcome of a command run with Exec.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// Exec runs argv in the instance with env added to its environment, with
// stdin closed, and collects its output. A non-zero exit code is a result,
// not an error. The output travels over the operation's websockets, on
// every server: one streamed mechanism, nothing left on the server to
// delete (RecordOutput also panics the client against LXD 5.0).
func (c *Client) Exec(ctx context.Context, name string, argv []string, env map[string]string) (ExecResult, error) {
	res, err := c.exec(ctx, name, argv, env)
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in instance %q on %q: %w", argv, name, c.name, err)
	}
	return res, nil
}

func (c *Client) exec(ctx context.Context, name string, argv []string, env map[string]string) (ExecResult, error) {
	if len(argv) == 0 {
		return ExecResult{}, fmt.Errorf("empty command")
	}
	var stdout, stderr bytes.Buffer
	dataDone := make(chan bool)
	req := api.InstanceExecPost{
		Command:     argv,
		Environment: env,
		WaitForWS:   true,
		Interactive: false,
	}
	args := &incus.InstanceExecArgs{Stdout: &stdout, Stderr: &stderr, DataDone: dataDone}
	op, err := send(ctx, func() (incus.Operation, error) { return c.srv.ExecInstance(name, req, args) })
	if err != nil {
		return ExecResult{}, notFound(err)
	}
	if err := wait(ctx, op); err != nil {
		return ExecResult{}, err
	}
	// The buffers are written by the client's mirror goroutines until
	// DataDone closes; read them only after.
	select {
	case <-dataDone:
	case <-ctx.Done():
		return ExecResult{}, ctx.Err()
	}
	code, err := exitCode(op.Get().Metadata)
	if err != nil {
		return ExecResult{}, err
	}
	return ExecResult{ExitCode: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
}

// exitCode reads the "return" entry of a finished exec operation.
func exitCode(meta map[string]any) (int, error) {
	switch v := meta["return"].(type) {
	case float64:
		return int(v), nil
	case int:
		return v, nil
	default:
		return 0, fmt.Errorf("no exit code in the operation's metadata (got %T)", meta["return"])
	}
}
