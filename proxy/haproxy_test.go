package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
)

// haproxyConfig is HAProxy with active health checks in front of a primary
// and a backup server, as an operator would set it up: checks every
// 100 ms, down after 2 failures, redispatch and 3 retries.
const haproxyConfig = `global
    maxconn 1000
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    option redispatch
    retries 3
frontend fe
    bind %s
    default_backend be
backend be
    option httpchk GET /
    server primary %s:80 check inter 100ms fall 2 rise 2
    server standby %s:80 check inter 100ms fall 2 rise 2 backup
`

// TestIntegrationHAProxyComparison runs the same load and failures
// through HAProxy and through this proxy, against the same kind of lab
// backends, and logs a table. It runs only with
// UNDERSTUDY_BENCH_HAPROXY=1 (bench/haproxy.sh sets it): it is a
// measurement, slower than a test.
func TestIntegrationHAProxyComparison(t *testing.T) {
	lab := labtest.Require(t)
	if os.Getenv("UNDERSTUDY_BENCH_HAPROXY") != "1" {
		t.Skip("skipping: a measurement; run bench/haproxy.sh (sets UNDERSTUDY_BENCH_HAPROXY=1)")
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("skipping: haproxy is not installed (bench/haproxy.sh installs Debian's)")
	}
	pinger, err := icmp.New()
	if err != nil {
		t.Skipf("skipping: the per-request probe needs a raw ICMP socket (root): %v", err)
	}
	t.Cleanup(func() { pinger.Close() })
	const standbyAddr = "10.200.1.182"
	labContainer(t, lab.Standby, lab.Image, "t-proxy-bsb", standbyAddr)

	var rows []string
	n := 0
	for _, f := range failures {
		for _, side := range []string{"haproxy", "understudy"} {
			n++
			name, addr := fmt.Sprintf("t-proxy-b%d", n), fmt.Sprintf("10.200.0.%d", 182+n)
			t.Run(f.name+"/"+side, func(t *testing.T) {
				c := labContainer(t, lab.HostA, lab.Image, name, addr)
				var st loadStats
				if side == "haproxy" {
					st = runHAProxy(t, bin, c, name, addr, standbyAddr, f.inject)
				} else {
					st = runFailover(t, pinger, c, name, addr, standbyAddr, f.inject)
				}
				st.log(t)
				if st.requests == 0 || st.fromPrimary == 0 {
					t.Fatalf("the load never reached the primary: %+v", st)
				}
				rows = append(rows, fmt.Sprintf("| %s | %s | %d | %d | %v | %v | %v |", f.name, side, st.requests, st.failed,
					st.firstStandby.Round(time.Millisecond), st.metP99.Round(time.Millisecond), st.max.Round(time.Millisecond)))
			})
		}
	}
	t.Log("| failure | proxy | requests | client errors | first standby answer | p99 of requests that met the failure | worst request |")
	t.Log("|---|---|---|---|---|---|---|")
	for _, r := range rows {
		t.Log(r)
	}
}

// runHAProxy starts HAProxy on a loopback port and runs the load through it.
func runHAProxy(t *testing.T, bin string, c *lxd.Client, name, addr, standbyAddr string,
	inject func(t *testing.T, c *lxd.Client, name, addr string)) loadStats {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, haproxyConfig, listen, addr, standbyAddr), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = tWriter{t}, tWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	front := "http://" + listen
	waitFor(t, "haproxy to serve", func() bool {
		resp, err := http.Get(front + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	results, injected := loadWithFailure(t, front, func() { inject(t, c, name, addr) })
	return summarize(results, injected, name)
}
