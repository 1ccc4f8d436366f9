package epoch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestGuardRefusesLowerEpochsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	g, err := Open(dir)
	if err != nil || g.Current() != 0 {
		t.Fatalf("Open of an empty dir = %v, %v; want epoch 0", g, err)
	}
	for _, e := range []uint64{0, 3, 3, 7} {
		if err := g.Check(e); err != nil {
			t.Fatalf("Check(%d) = %v, want accepted", e, err)
		}
	}
	if err := g.Check(6); !errors.Is(err, ErrStale) {
		t.Fatalf("Check(6) after 7 = %v, want ErrStale", err)
	}
	again, err := Open(dir) // a restarted agent
	if err != nil || again.Current() != 7 {
		t.Fatalf("reopened guard = %v, %v; want epoch 7", again, err)
	}
	if err := again.Check(5); !errors.Is(err, ErrStale) {
		t.Errorf("reopened Check(5) = %v, want ErrStale", err)
	}
}

func TestOpenRefusesACorruptEpochFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "epoch"), []byte("seven\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("Open accepted a corrupt epoch file")
	}
}
