package inventory_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// editedMinimal is examples/minimal.yaml with each old string replaced by
// its new one (each must occur), written to a temporary directory.
func editedMinimal(t *testing.T, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Abs("../examples/keys/tsig.key")
	text := strings.Replace(string(b), "tsig-key-file: keys/tsig.key", "tsig-key-file: "+key, 1)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("minimal.yaml has no %q", pairs[i])
		}
		text = strings.Replace(text, pairs[i], pairs[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// coldService is a second service on standby-1 whose memory is 3 GiB.
const coldService = `  - name: big
    fqdn: big.lab.test.
    vm: web-vm
    port: 81
    check: {tcp: {}}
    standby: standby-1
    mode: MODE
    container:
      image: understudy-busybox
      limits: {memory: 3GiB}
`

func TestCapacityCountsOnlyWarmServices(t *testing.T) {
	small := "capacity: {containers: 1, memory: 1GiB}"
	t.Run("cold beyond capacity is decided at failure time", func(t *testing.T) {
		path := editedMinimal(t, "capacity: {containers: 20, memory: 4GiB}", small)
		b, _ := os.ReadFile(path)
		os.WriteFile(path, append(b, strings.ReplaceAll(coldService, "MODE", "cold")...), 0o644)
		if _, err := inventory.Load(path); err != nil {
			t.Fatalf("a cold service beyond the standby's capacity was refused: %v", err)
		}
	})
	t.Run("warm beyond capacity is refused with its position", func(t *testing.T) {
		path := editedMinimal(t, "capacity: {containers: 20, memory: 4GiB}", small)
		b, _ := os.ReadFile(path)
		os.WriteFile(path, append(b, strings.ReplaceAll(coldService, "MODE", "warm")...), 0o644)
		_, err := inventory.Load(path)
		if err == nil {
			t.Fatal("two warm services on a standby of one slot were accepted")
		}
		for _, want := range []string{
			":40:28: standby[0].capacity.containers: 2 warm services are assigned to standby \"standby-1\", it holds 1",
			":40:39: standby[0].capacity.memory: the warm services assigned to standby \"standby-1\" need 3328MiB of memory, it has 1GiB",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
}

func TestMaxParallelActivations(t *testing.T) {
	inv, err := inventory.Load(editedMinimal(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Monitor.MaxParallelActivations; got != 8 {
		t.Errorf("default max-parallel-activations = %d, want 8", got)
	}
	inv, err = inventory.Load(editedMinimal(t, "  passes: 2", "  passes: 2\n  max-parallel-activations: 3"))
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Monitor.MaxParallelActivations; got != 3 {
		t.Errorf("max-parallel-activations = %d, want 3", got)
	}
	_, err = inventory.Load(editedMinimal(t, "  passes: 2", "  passes: 2\n  max-parallel-activations: 0"))
	if err == nil || !strings.Contains(err.Error(), ":22:29: monitor.max-parallel-activations: must be from 1 to 1000, got 0") {
		t.Errorf("max-parallel-activations: 0: err = %v, want a positioned range error", err)
	}
}
