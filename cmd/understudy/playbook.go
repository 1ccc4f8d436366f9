package main

import (
	"context"
	"errors"
	"io"
)

// runPlaybook is not written yet; its issue owns this file.
func runPlaybook(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
