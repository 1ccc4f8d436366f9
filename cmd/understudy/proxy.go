package main

import (
	"context"
	"errors"
	"io"
)

// runProxy is not written yet; its issue owns this file.
func runProxy(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
