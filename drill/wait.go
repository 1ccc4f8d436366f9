package drill

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// RunWaiting runs the drill, retrying while the preflight refuses, for up
// to wait: nothing is injected before the preflight passed.
func RunWaiting(ctx context.Context, cfg Config, deps Deps, wait time.Duration, logger *slog.Logger) (*Result, error) {
	deadline := time.Now().Add(wait)
	for {
		res, err := Run(ctx, cfg, deps)
		if !errors.Is(err, ErrPreflight) || time.Now().After(deadline) {
			return res, err
		}
		logger.Info("preflight refused; trying again", "component", "drill", "err", err)
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(time.Second):
		}
	}
}
