package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestIntegrationHAProxyComparison runs the same load and the same
// failures through HAProxy and through understudy, alternating, with the
// same warm standby container behind both. understudy is the real thing:
// the built binary's agent, monitor and proxy, the monitor confirming and
// fencing before it moves the service. HAProxy's backup server is the
// standby container the agent prepared for the service that understudy
// fails over next. Each understudy run must have no client error; HAProxy's
// are counted as measured. It runs only with UNDERSTUDY_BENCH_HAPROXY=1
// (bench/haproxy.sh sets it, and UNDERSTUDY_BENCH_RESULTS to write the
// raw JSON and the summary): it is a measurement, slower than a test.
func TestIntegrationHAProxyComparison(t *testing.T) {
	lab := labtest.Require(t)
	if os.Getenv("UNDERSTUDY_BENCH_HAPROXY") != "1" {
		t.Skip("skipping: a measurement; run bench/haproxy.sh (sets UNDERSTUDY_BENCH_HAPROXY=1)")
	}
	hap, err := exec.LookPath("haproxy")
	if err != nil {
		labtest.Skip(t, "haproxy is not installed (bench/haproxy.sh installs Debian's)")
	}
	rounds := 2
	if v, err := strconv.Atoi(os.Getenv("UNDERSTUDY_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = min(v, cmpMaxServices/len(failures))
	}
	rep := newCmpReport(hap)
	w := newCmpWorld(t, lab, rounds*len(failures))
	for r := range rounds {
		for fi, f := range failures {
			s := w.services[r*len(failures)+fi]
			t.Run(fmt.Sprintf("%s/%d/haproxy", f.name, r+1), func(t *testing.T) {
				c := labContainer(t, lab.HostA, lab.Image, cmpHAPrimary, cmpHAAddr)
				st := runHAProxy(t, hap, c, s, f.inject)
				st.log(t)
				// HAProxy's errors and its standby answers are measured,
				// not required: clients stuck on a blackholed primary may
				// see no standby answer within the run.
				if st.fromPrimary == 0 {
					t.Errorf("the load never reached HAProxy's primary: %+v", st)
				}
				rep.add(f.name, "haproxy", r+1, st, nil)
			})
			t.Run(fmt.Sprintf("%s/%d/understudy", f.name, r+1), func(t *testing.T) {
				front := w.proxyURL
				results, injected := loadWithFailure(t, front, s.Host, func() { f.inject(t, w.hostA, s.VM, s.Address) })
				st := summarize(results, injected, s.VM)
				st.check(t) // no client error, answers from both
				rep.add(f.name, "understudy", r+1, st, w.incident(t, s.Name))
			})
		}
	}
	rep.log(t)
	if dir := os.Getenv("UNDERSTUDY_BENCH_RESULTS"); dir != "" {
		if err := rep.write(filepath.Join(dir, "haproxy")); err != nil {
			t.Errorf("write the results: %v", err)
		}
	}
}

// incident waits for the service's failover incident to be closed and
// returns it (nil when the monitor never shows one).
func (w *cmpWorld) incident(t *testing.T, name string) *cmpIncident {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		st, err := w.status(ctx)
		if err == nil {
			for _, ss := range st.Services {
				if ss.Service == name && ss.LastIncident != nil && !ss.LastIncident.Open {
					inc := &cmpIncident{State: ss.State, Result: ss.LastIncident.Result, TotalMS: ss.LastIncident.TotalMS}
					for _, p := range ss.LastIncident.Phases {
						inc.Phases = append(inc.Phases, cmpPhase{Phase: p.Phase, AtMS: p.AtMS})
					}
					return inc
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Errorf("the monitor shows no closed incident for %s: %v", name, err)
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runHAProxy starts HAProxy on a loopback port in front of the primary c
// (at cmpHAAddr) and s's standby container, and runs the load through it.
func runHAProxy(t *testing.T, bin string, c *lxd.Client, s cmpService,
	inject func(t *testing.T, c *lxd.Client, name, addr string)) loadStats {
	listen := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, cfg, fmt.Sprintf(haproxyConfig, listen, cmpHAAddr, s.StandbyAddr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = tWriter{t}, tWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	front := "http://" + listen
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	waitHostAnswers(wctx, t, front, s.Host, cmpHAPrimary)
	results, injected := loadWithFailure(t, front, s.Host, func() { inject(t, c, cmpHAPrimary, cmpHAAddr) })
	return summarize(results, injected, cmpHAPrimary)
}

// haproxyVersion is the first line of haproxy -v.
func haproxyVersion(bin string) string {
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}
