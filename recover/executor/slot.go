package executor

import (
	"context"
	"fmt"
	"sync"
)

// Slot waits for one of the migrations' slots (Config.MaxMigrations) until
// ctx ends (then ErrBusy), for other bulk copies that share their limit (a
// content sync); release gives it back and may be called more than once.
func (e *Executor) Slot(ctx context.Context) (release func(), err error) {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%d migration slot(s) taken: %w", cap(e.slots), ErrBusy)
	}
	var once sync.Once
	return func() { once.Do(func() { <-e.slots }) }, nil
}
