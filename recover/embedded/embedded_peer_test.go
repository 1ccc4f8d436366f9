package embedded

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedEtcdPeerPortClosed: the single node's peer endpoint (etcd's
// /raft, /members, /leases mux) is a unix socket in the 0700 data
// directory, and no TCP port this process listens on answers an anonymous
// peer request.
func TestEmbeddedEtcdPeerPortClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	e, err := Start(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, u := range e.etcd.Config().ListenPeerUrls {
		if u.Scheme != "unix" {
			t.Errorf("peer endpoint %s: a %s listener, want only unix sockets", u.String(), u.Scheme)
		}
	}
	ports := listeningTCPPorts(t)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, addr := range ports {
		resp, err := client.Get("http://" + addr + "/members")
		if err != nil {
			continue // not HTTP: not etcd's peer mux
		}
		resp.Body.Close()
		if resp.Header.Get("X-Etcd-Cluster-Id") != "" || resp.StatusCode == http.StatusOK {
			t.Errorf("TCP %s answers GET /members: %s (cluster %q); want no peer port", addr, resp.Status, resp.Header.Get("X-Etcd-Cluster-Id"))
		}
	}
}

// listeningTCPPorts returns the TCP addresses this process listens on, from
// /proc/net/tcp{,6} and the process's socket inodes.
func listeningTCPPorts(t *testing.T) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" || !inodes[fs[9]] { // 0A: LISTEN
				continue
			}
			hexIP, hexPort, _ := strings.Cut(fs[1], ":")
			port, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil {
				t.Fatalf("%s: port %q: %v", f, hexPort, err)
			}
			host := "[::1]"
			if ip, err := strconv.ParseUint(hexIP, 16, 32); err == nil && len(hexIP) == 8 {
				// /proc/net/tcp writes the address in host (little-endian) order.
				host = fmt.Sprintf("%d.%d.%d.%d", ip&0xff, ip>>8&0xff, ip>>16&0xff, ip>>24)
				if ip == 0 {
					host = "127.0.0.1"
				}
			}
			addrs = append(addrs, fmt.Sprintf("%s:%d", host, port))
		}
	}
	return addrs
}
