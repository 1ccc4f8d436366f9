package launch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/understudy/understudy/drill"
)

// RunWaiting runs the drill, retrying while the preflight refuses, for up
// to wait: nothing is injected before the preflight passed.
func RunWaiting(ctx context.Context, cfg drill.Config, deps drill.Deps, wait time.Duration, logger *slog.Logger) (*drill.Result, error) {
	return RetryPreflight(ctx, wait, logger, func() (*drill.Result, error) { return drill.Run(ctx, cfg, deps) })
}

// RetryPreflight calls run until it returns something other than a
// refused preflight (drill.ErrPreflight), once a second for up to wait, or
// until ctx ends; it returns run's last result. A single drill and a host
// drill wait the same way.
func RetryPreflight[R any](ctx context.Context, wait time.Duration, logger *slog.Logger, run func() (R, error)) (R, error) {
	deadline := time.Now().Add(wait)
	for {
		res, err := run()
		if !errors.Is(err, drill.ErrPreflight) || time.Now().After(deadline) {
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
