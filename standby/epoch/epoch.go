// Package epoch is the standby agent's fencing guard: it persists the
// highest epoch a monitor has sent and refuses requests carrying a lower one,
// so that a monitor that lost its leadership cannot act after its successor
// did. It neither issues epochs (package ha does) nor decides which requests
// carry one (the agent does).
package epoch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/understudy/understudy/internal/atomicfile"
)

// ErrStale is wrapped by Check's refusal of an epoch lower than the highest
// seen (standby.ErrStaleEpoch, HTTP 409 on the agent's API).
var ErrStale = errors.New("stale epoch")

// Guard persists the highest epoch seen and refuses lower ones. It is safe
// for concurrent use.
type Guard struct {
	mu   sync.Mutex
	path string
	max  uint64
}

// Open reads the highest epoch seen from DIR/epoch (0 when the file does
// not exist yet).
func Open(dir string) (*Guard, error) {
	g := &Guard{path: filepath.Join(dir, "epoch")}
	data, err := os.ReadFile(g.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return g, nil
	case err != nil:
		return nil, fmt.Errorf("read epoch: %w", err)
	}
	g.max, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("parse epoch file %s: %w", g.path, err)
	}
	return g, nil
}

// Check accepts epoch when it is at least the highest seen, persisting a new
// maximum before returning; it returns ErrStale otherwise.
func (g *Guard) Check(epoch uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if epoch < g.max {
		return fmt.Errorf("%w: request epoch %d is lower than %d", ErrStale, epoch, g.max)
	}
	if epoch == g.max {
		return nil
	}
	if err := atomicfile.Write(g.path, []byte(strconv.FormatUint(epoch, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("persist epoch: %w", err)
	}
	g.max = epoch
	return nil
}

// Current returns the highest epoch seen.
func (g *Guard) Current() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max
}
