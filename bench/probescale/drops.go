package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// rawDrops is the kernel's count of packets dropped at this process's raw
// sockets (the ICMP pinger's): /proc/net/raw's drops column, for the
// socket inodes among /proc/self/fd. A full receive buffer drops there.
func rawDrops() int {
	fds, _ := filepath.Glob("/proc/self/fd/*")
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fd)
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile("/proc/net/raw")
	if err != nil {
		return -1
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 13 || !mine[f[9]] {
			continue
		}
		d, _ := strconv.Atoi(f[len(f)-1])
		n += d
	}
	return n
}
