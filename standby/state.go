package standby

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/understudy/understudy/internal/atomicfile"
	"github.com/understudy/understudy/standby/config"
)

// record is what the agent persists per service.
type record struct {
	Spec    ServiceSpec `json:"spec"`
	Address netip.Addr  `json:"address,omitzero"`
}

// serviceStore persists the prepared services and their pool addresses in
// state-dir/services.json, so both survive a restart.
type serviceStore struct {
	mu       sync.Mutex
	path     string
	services map[string]record
}

func openServiceStore(dir string) (*serviceStore, error) {
	s := &serviceStore{path: filepath.Join(dir, "services.json"), services: map[string]record{}}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read services: %w", err)
	}
	if err := json.Unmarshal(data, &s.services); err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.path, err)
	}
	return s, nil
}

func (s *serviceStore) get(name string) (record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.services[name]
	return r, ok
}

func (s *serviceStore) list() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]record, 0, len(s.services))
	for _, r := range s.services {
		out = append(out, r)
	}
	return out
}

// put stores r, allocating an address from pool when pool is set and the
// service has none yet.
func (s *serviceStore) put(r record, pool *config.Network) (record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.services[r.Spec.Name]; ok {
		r.Address = old.Address
	}
	if pool != nil && !r.Address.IsValid() {
		addr, err := s.allocate(pool)
		if err != nil {
			return record{}, err
		}
		r.Address = addr
	}
	prev, had := s.services[r.Spec.Name]
	s.services[r.Spec.Name] = r
	if err := s.save(); err != nil {
		if had {
			s.services[r.Spec.Name] = prev
		} else {
			delete(s.services, r.Spec.Name)
		}
		return record{}, err
	}
	return r, nil
}

func (s *serviceStore) remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.services[name]
	if !ok {
		return nil
	}
	delete(s.services, name)
	if err := s.save(); err != nil {
		s.services[name] = prev
		return err
	}
	return nil
}

// allocate returns the lowest pool address no service holds. Caller holds mu.
func (s *serviceStore) allocate(pool *config.Network) (netip.Addr, error) {
	used := map[netip.Addr]bool{}
	for _, r := range s.services {
		used[r.Address] = true
	}
	first, last := pool.Range()
	for a := first; a.IsValid() && !last.Less(a); a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: address pool %s is exhausted", ErrNoCapacity, pool.Pool)
}

func (s *serviceStore) save() error {
	data, err := json.MarshalIndent(s.services, "", "  ")
	if err != nil {
		return fmt.Errorf("encode services: %w", err)
	}
	if err := atomicfile.Write(s.path, data, 0o600); err != nil {
		return fmt.Errorf("persist services: %w", err)
	}
	return nil
}

// ensureDir creates the state directory (mode 0700) if needed.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	return nil
}
