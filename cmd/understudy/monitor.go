package main

import (
	"context"
	"errors"
	"io"
)

// runMonitor is not written yet; its issue owns this file.
func runMonitor(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
