package main

import (
	"context"
	"errors"
	"io"
)

// runAgent is not written yet; its issue owns this file.
func runAgent(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
