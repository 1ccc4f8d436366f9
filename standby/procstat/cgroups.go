package procstat

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// Cgroup is where one process's CPU time and memory are accounted: its
// cgroup v2 path, or on a v1 (hybrid) host its cpuacct and memory paths,
// each relative to its hierarchy's mount point. A container's process
// reports its container's cgroup (the lxc.payload.NAME component and
// above): what the container's own processes created below it counts too.
type Cgroup struct {
	V2      string // "" on a v1 host
	CPUAcct string // v1 only
	Memory  string // v1 only
}

// payloadPrefix starts the name of the cgroup LXC (Incus, LXD) puts a
// container's processes in.
const payloadPrefix = "lxc.payload."

// ReadCgroup reads PROCROOT/PID/cgroup (procRoot is /proc, or a test's copy).
func ReadCgroup(procRoot string, pid int) (Cgroup, error) {
	f, err := os.Open(path.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return Cgroup{}, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	defer f.Close()
	var cg Cgroup
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		p := payloadRoot(parts[2])
		if parts[1] == "" && parts[0] == "0" {
			cg.V2 = p
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			switch c {
			case "cpuacct":
				cg.CPUAcct = p
			case "memory":
				cg.Memory = p
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Cgroup{}, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	if cg.CPUAcct != "" || cg.Memory != "" {
		cg.V2 = "" // hybrid: the v2 tree holds no controllers
	}
	if cg.V2 == "" && (cg.CPUAcct == "" || cg.Memory == "") {
		return Cgroup{}, fmt.Errorf("read cgroup of pid %d: neither a cgroup v2 path nor v1 cpuacct and memory", pid)
	}
	return cg, nil
}

// payloadRoot cuts a cgroup path after its last lxc.payload.NAME component,
// if it has one (a container's init may sit in a child, e.g. init.scope).
func payloadRoot(p string) string {
	parts := strings.Split(p, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.HasPrefix(parts[i], payloadPrefix) {
			return strings.Join(parts[:i+1], "/")
		}
	}
	return p
}

// Usage is what a cgroup used: its CPU time since it was created and the
// memory it holds now.
type Usage struct {
	CPUNanos    uint64
	MemoryBytes int64
}

// ReadUsage reads cg's CPU time and memory under root (/sys/fs/cgroup, or
// a test's copy): cpu.stat's usage_usec and memory.current on v2,
// cpuacct.usage and memory.usage_in_bytes on v1.
func ReadUsage(root string, cg Cgroup) (Usage, error) {
	if cg.V2 != "" {
		dir := path.Join(root, cg.V2)
		usec, err := readKeyed(path.Join(dir, "cpu.stat"), "usage_usec")
		if err != nil {
			return Usage{}, err
		}
		mem, err := readNumber(path.Join(dir, "memory.current"))
		if err != nil {
			return Usage{}, err
		}
		return Usage{CPUNanos: usec * 1000, MemoryBytes: int64(mem)}, nil
	}
	ns, err := readNumber(path.Join(root, "cpuacct", cg.CPUAcct, "cpuacct.usage"))
	if err != nil {
		return Usage{}, err
	}
	mem, err := readNumber(path.Join(root, "memory", cg.Memory, "memory.usage_in_bytes"))
	if err != nil {
		return Usage{}, err
	}
	return Usage{CPUNanos: ns, MemoryBytes: int64(mem)}, nil
}

// readNumber reads a file holding one unsigned integer.
func readNumber(file string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read cgroup usage: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	return v, nil
}

// readKeyed reads the value of key from a "key value" per line file.
func readKeyed(file, key string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read cgroup usage: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s: %s: %w", file, key, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("parse %s: no %s", file, key)
}

// CPUPercent is the CPU used between two readings, dtNanos apart, as a
// share of cpus CPUs, in percent (0 when dtNanos or cpus is not positive,
// or the counter went back: the cgroup was created anew).
func CPUPercent(prev, cur uint64, dtNanos int64, cpus int) float64 {
	if dtNanos <= 0 || cpus <= 0 || cur < prev {
		return 0
	}
	return 100 * float64(cur-prev) / (float64(dtNanos) * float64(cpus))
}
