package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/monitor/probe"
)

// pointConfig is one measured point.
type pointConfig struct {
	spec           string // TARGETS@INTERVAL
	warmup, window time.Duration
	deaths, fails  int
	profile        string
}

// Point is the result of one point (one line of probescale.json).
type Point struct {
	Targets    int            `json:"targets"`
	IntervalMS int64          `json:"interval_ms"`
	TimeoutMS  int64          `json:"timeout_ms"`
	Fails      int            `json:"fails"`
	VMs        int            `json:"vms"`
	ByKind     map[string]int `json:"targets_by_kind"`
	WindowS    float64        `json:"window_s"`
	// Probes is how many probes started in the window; Expected how many
	// the schedule asks for (targets × window / interval).
	Probes   int     `json:"probes"`
	Expected float64 `json:"expected_probes"`
	// CPUCores is the process's user+system CPU time over the window's
	// wall time; RSSMiB its resident memory at the window's end.
	CPUCores float64 `json:"cpu_cores"`
	// CPUPerProbeUS is the CPU time per probe started, in µs: less
	// sensitive to a busy machine than CPUCores (a starved engine probes
	// less).
	CPUPerProbeUS float64 `json:"cpu_per_probe_us"`
	RSSMiB        float64 `json:"rss_mib"`
	// Lateness of each probe's start against its schedule (one interval
	// after the previous start of the same target), in ms.
	LateP50 float64 `json:"lateness_p50_ms"`
	LateP99 float64 `json:"lateness_p99_ms"`
	LateMax float64 `json:"lateness_max_ms"`
	// FailedProbes failed in the window (nothing was killed yet); FalseDowns
	// are the targets that crossed their fails threshold anyway.
	FailedProbes int               `json:"failed_probes"`
	FailedByKind map[string]int    `json:"failed_by_kind,omitempty"`
	FailedWhy    map[string]string `json:"failed_example,omitempty"`
	FalseDowns   int               `json:"false_downs"`
	// ICMPDrops are the echo replies the kernel dropped at the pinger's
	// raw socket during the window (its receive buffer was full).
	ICMPDrops int `json:"icmp_socket_drops"`
	// Death: from a listener's close to the engine's ServiceDown event.
	Deaths     int     `json:"deaths"`
	Detected   int     `json:"detected"`
	DeathMinMS float64 `json:"death_to_down_min_ms"`
	DeathP50MS float64 `json:"death_to_down_p50_ms"`
	DeathMaxMS float64 `json:"death_to_down_max_ms"`
	LoadStart  string  `json:"loadavg_start"`
	LoadEnd    string  `json:"loadavg_end"`
}

func parseSpec(s string) (int, time.Duration, error) {
	n, iv, ok := strings.Cut(s, "@")
	targets, err := strconv.Atoi(n)
	if !ok || err != nil || targets < 4 {
		return 0, 0, fmt.Errorf("point %q: want TARGETS@INTERVAL, e.g. 1000@1s", s)
	}
	d, err := time.ParseDuration(iv)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("point %q: bad interval: %v", s, err)
	}
	return targets, d, nil
}

// runPoint measures one point and prints its JSON on out.
func runPoint(ctx context.Context, cfg pointConfig, out io.Writer) error {
	targets, interval, err := parseSpec(cfg.spec)
	if err != nil {
		return err
	}
	vms := (targets - 1) / 3 // one hypervisor; per VM: icmp, instance, tcp
	srv, err := startServer(ctx, vms)
	if err != nil {
		return err
	}
	defer srv.stop()

	timing := probe.Timing{Interval: interval, Timeout: interval / 2, Fails: cfg.fails, Passes: 2}
	plan := probe.Plan{Timing: timing, Hypervisors: []probe.HypervisorSpec{{Name: "h", Address: "127.0.0.1"}}}
	for i := range vms {
		vm := fmt.Sprintf("vm%05d", i)
		plan.VMs = append(plan.VMs, probe.VMSpec{Name: vm, Hypervisor: "h", Instance: vm, Address: vmAddr(i)})
		plan.Services = append(plan.Services, probe.ServiceSpec{Name: fmt.Sprintf("s%05d", i), VM: vm, Port: servicePort, Check: probe.KindTCP, Confirm: probe.ConfirmNone})
	}
	pinger, err := icmp.New()
	if err != nil {
		return err
	}
	defer pinger.Close()
	hv := probe.HypervisorFuncs{
		StateFunc:    func(context.Context, string) (bool, error) { return true, nil },
		CheckAPIFunc: func(context.Context) error { return nil },
	}
	rec := newRecorder(plan.Targets())
	probers := probe.Probers(probe.Deps{Pinger: pinger, Hypervisors: map[string]probe.Hypervisor{"h": hv}})
	for k, f := range probers {
		probers[k] = rec.wrap(f)
	}
	events := make(chan probe.Event, 1024)
	eng, err := probe.New(plan, probe.Options{
		Probers: probers, Sink: probe.ChanSink(events),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = eng.Run(ectx) })
	downs := &downLog{at: map[string]time.Time{}}
	wg.Go(func() { downs.collect(ectx, events) })

	res := Point{Targets: len(plan.Targets()), IntervalMS: interval.Milliseconds(), TimeoutMS: timing.Timeout.Milliseconds(), Fails: cfg.fails, VMs: vms, ByKind: map[string]int{}}
	for _, t := range plan.Targets() {
		res.ByKind[string(t.Kind)]++
	}
	if !sleep(ctx, interval+cfg.warmup) {
		return ctx.Err()
	}
	res.LoadStart = loadavg()
	stopProfile, err := startProfile(cfg.profile)
	if err != nil {
		return err
	}
	drops0 := rawDrops()
	cpu0, t0 := cpuTime(), time.Now()
	rec.setOn(true)
	if !sleep(ctx, cfg.window) {
		return ctx.Err()
	}
	rec.setOn(false)
	cpu1, t1 := cpuTime(), time.Now()
	res.ICMPDrops = rawDrops() - drops0
	stopProfile()
	res.RSSMiB = rssMiB()
	res.LoadEnd = loadavg()
	wall := t1.Sub(t0)
	res.WindowS = wall.Seconds()
	res.CPUCores = (cpu1 - cpu0).Seconds() / wall.Seconds()
	res.Expected = float64(res.Targets) * wall.Seconds() / interval.Seconds()
	res.FalseDowns = downs.count() // every failure before the kills is false
	if err := measureDeaths(ctx, srv, downs, &res, cfg, vms, interval); err != nil {
		return err
	}
	cancel()
	wg.Wait() // the engine stopped: the recorder is ours alone
	res.Probes, res.FailedProbes = rec.counts()
	res.FailedByKind, res.FailedWhy = rec.failures()
	if res.Probes > 0 {
		res.CPUPerProbeUS = res.CPUCores * res.WindowS * 1e6 / float64(res.Probes)
	}
	res.LateP50, res.LateP99, res.LateMax = rec.lateness()
	return json.NewEncoder(out).Encode(res)
}

// measureDeaths kills cfg.deaths services spread over the VMs and waits
// for their ServiceDown events.
func measureDeaths(ctx context.Context, srv *server, downs *downLog, res *Point, cfg pointConfig, vms int, interval time.Duration) error {
	n := min(cfg.deaths, vms)
	killed := map[string]time.Time{}
	for k := range n {
		i := k * vms / n
		at, err := srv.kill(i)
		if err != nil {
			return err
		}
		killed[fmt.Sprintf("s%05d", i)] = at
	}
	deadline := time.Now().Add(time.Duration(cfg.fails+4) * interval * 3)
	for time.Now().Before(deadline) && downs.countOf(killed) < n {
		if !sleep(ctx, interval/4) {
			return ctx.Err()
		}
	}
	var d []float64
	for s, at := range killed {
		if got, ok := downs.get(s); ok && !got.Before(at) { // one down before its kill is a false down
			d = append(d, float64(got.Sub(at).Microseconds())/1000)
		}
	}
	res.Deaths, res.Detected = n, len(d)
	if len(d) > 0 {
		sortF(d)
		res.DeathMinMS, res.DeathP50MS, res.DeathMaxMS = d[0], pct(d, 50), d[len(d)-1]
	}
	return nil
}

// downLog records when each service's failure event arrived.
type downLog struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (l *downLog) collect(ctx context.Context, events <-chan probe.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-events:
			if !e.Kind.IsFailure() {
				continue
			}
			now := time.Now()
			l.mu.Lock()
			for _, s := range e.Services {
				if _, seen := l.at[s]; !seen {
					l.at[s] = now
				}
			}
			if len(e.Services) == 0 {
				l.at["event/"+e.Kind.String()+"/"+strings.Join(e.VMs, ",")] = now
			}
			l.mu.Unlock()
		}
	}
}

func (l *downLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.at)
}

func (l *downLog) get(s string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.at[s]
	return t, ok
}

func (l *downLog) countOf(m map[string]time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for s := range m {
		if _, ok := l.at[s]; ok {
			n++
		}
	}
	return n
}

// server is the -serve child holding the TCP listeners.
type server struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startServer(ctx context.Context, vms int) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, "-serve", strconv.Itoa(vms))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("serve stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("serve stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the listeners: %w", err)
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewScanner(stdout)}
	if !s.out.Scan() || s.out.Text() != "ready" {
		s.stop()
		return nil, fmt.Errorf("the listeners did not start: %q", s.out.Text())
	}
	return s, nil
}

// kill closes listener i and returns when it was closed.
func (s *server) kill(i int) (time.Time, error) {
	if _, err := fmt.Fprintf(s.in, "kill %d\n", i); err != nil {
		return time.Time{}, fmt.Errorf("ask to kill %d: %w", i, err)
	}
	if !s.out.Scan() {
		return time.Time{}, fmt.Errorf("kill %d: no answer", i)
	}
	f := strings.Fields(s.out.Text())
	if len(f) != 3 || f[0] != "killed" {
		return time.Time{}, fmt.Errorf("kill %d: answer %q", i, s.out.Text())
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("kill %d: answer %q", i, s.out.Text())
	}
	return time.Unix(0, ns), nil
}

func (s *server) stop() {
	s.in.Close()
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	s.cmd.Wait()
}

func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create the profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start the profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMiB reads VmRSS from /proc/self/status.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
