package procstat

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCgroupV2: a container's init in a child of lxc.payload.web counts
// as the container's cgroup, whose cpu.stat and memory.current are read.
func TestCgroupV2(t *testing.T) {
	proc, sys := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(proc, "42", "cgroup"), "0::/lxc.payload.web/init.scope\n")
	writeFile(t, filepath.Join(sys, "lxc.payload.web", "cpu.stat"), "usage_usec 2500\nuser_usec 2000\n")
	writeFile(t, filepath.Join(sys, "lxc.payload.web", "memory.current"), "1048576\n")
	cg, err := ReadCgroup(proc, 42)
	if err != nil || cg.V2 != "/lxc.payload.web" {
		t.Fatalf("ReadCgroup = %+v, %v; want v2 /lxc.payload.web", cg, err)
	}
	u, err := ReadUsage(sys, cg)
	if err != nil || u.CPUNanos != 2500000 || u.MemoryBytes != 1048576 {
		t.Fatalf("ReadUsage = %+v, %v; want 2500000 ns, 1 MiB", u, err)
	}
}

// TestCgroupV1Hybrid: on a hybrid host the cpuacct and memory hierarchies
// are read, also where they are mounted together with cpu.
func TestCgroupV1Hybrid(t *testing.T) {
	proc, sys := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(proc, "7", "cgroup"), "12:cpu,cpuacct:/lab/lxc.payload.api\n4:memory:/lab/lxc.payload.api\n0::/lab/lxc.payload.api\n")
	writeFile(t, filepath.Join(sys, "cpuacct", "lab", "lxc.payload.api", "cpuacct.usage"), "123456789\n")
	writeFile(t, filepath.Join(sys, "memory", "lab", "lxc.payload.api", "memory.usage_in_bytes"), "4096\n")
	cg, err := ReadCgroup(proc, 7)
	if err != nil || cg.V2 != "" || cg.CPUAcct != "/lab/lxc.payload.api" || cg.Memory != "/lab/lxc.payload.api" {
		t.Fatalf("ReadCgroup = %+v, %v", cg, err)
	}
	u, err := ReadUsage(sys, cg)
	if err != nil || u.CPUNanos != 123456789 || u.MemoryBytes != 4096 {
		t.Fatalf("ReadUsage = %+v, %v", u, err)
	}
	if _, err := ReadCgroup(proc, 8); err == nil {
		t.Error("ReadCgroup of a missing pid: no error")
	}
}

// TestCPUPercent: 1.5 s of CPU in 1 s on 2 CPUs is 75 %; a counter that
// went back is 0.
func TestCPUPercent(t *testing.T) {
	if got := CPUPercent(0, 1_500_000_000, 1_000_000_000, 2); got != 75 {
		t.Errorf("CPUPercent = %v, want 75", got)
	}
	if got := CPUPercent(10, 5, 1_000_000_000, 2); got != 0 {
		t.Errorf("CPUPercent of a reset counter = %v, want 0", got)
	}
}
