package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
)

var (
	_ Notifier = (*Webhook)(nil)
	_ Execer   = (*Command)(nil)
)

// Webhook is the Notifier that POSTs the notification as JSON. Any 2xx
// answer is success. The URL is not logged or put in errors beyond its host,
// since webhook URLs often carry a token.
type Webhook struct {
	Client *http.Client // default http.DefaultClient
}

// Notify POSTs n to url.
func (w *Webhook) Notify(ctx context.Context, url string, n Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return errors.New("build webhook request: invalid URL")
	}
	host := req.URL.Host
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", n.Key)
	c := w.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap() // drop the URL the client puts in its error
		}
		return fmt.Errorf("post webhook to %s: %w", host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post webhook to %s: status %s", host, resp.Status)
	}
	return nil
}

// Command is the Execer that runs operator commands directly (no shell),
// with the monitor's environment plus the incident variables. Its output is
// kept (the last 4 KiB) for the error message when it fails.
type Command struct{}

// Exec runs argv and waits for it; ctx's deadline kills it.
func (Command) Exec(ctx context.Context, argv, env []string) error {
	if len(argv) == 0 {
		return errors.New("run command: empty argv")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("run %s: %w: %s", argv[0], err, msg)
		}
		return fmt.Errorf("run %s: %w", argv[0], err)
	}
	return nil
}

// tail keeps the last 4 KiB written to it.
type tail struct{ b []byte }

// Write keeps the end of p.
func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

// String returns what was kept.
func (t *tail) String() string { return string(t.b) }
