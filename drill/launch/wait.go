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
	deadline := time.Now().Add(wait)
	for {
		res, err := drill.Run(ctx, cfg, deps)
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
