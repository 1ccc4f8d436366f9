package main

import (
	"context"
	"errors"
	"io"
)

// runStatus is not written yet; its issue owns this file.
func runStatus(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
