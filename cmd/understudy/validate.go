package main

import (
	"context"
	"errors"
	"io"
)

// runValidate is not written yet; its issue owns this file.
func runValidate(_ context.Context, _ []string, _, _ io.Writer) error {
	return errors.New("not implemented yet")
}
