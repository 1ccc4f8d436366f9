package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// The seeds migration experiment's names and addresses (HACKING.md):
// primary t-seeds-mig-a-vm on host-a 10.200.0.108, its standby container
// from 10.200.1.159-160, its spare copy from 10.200.2.92-94.
const (
	seedsMigPrefix = "t-seeds-mig-"
	seedsMigPool   = "10.200.1.159-10.200.1.160"
	seedsMigSpare1 = "10.200.2.92"
	seedsMigSpareN = "10.200.2.94"
)

// seedsMigRun is one migration's figures, as bench/seeds-migration.sh reads them.
type seedsMigRun struct {
	Run            int     `json:"run"`
	DataMB         int     `json:"data_mb"`
	Bandwidth      string  `json:"bandwidth"`
	MigrationS     float64 `json:"migration_s"`      // migrate request -> incident closed
	CopyStepS      float64 `json:"copy_step_s"`      // the copy step (stop, transfer, start)
	DNSDowntimeS   float64 `json:"dns_downtime_s"`   // the longest gap between two successes through DNS
	DNSFailed      int     `json:"dns_failed"`       // failed GETs of the DNS client
	ProxyGapS      float64 `json:"proxy_gap_s"`      // longest time between two answers through the proxy
	ProxySlowestS  float64 `json:"proxy_slowest_s"`  // slowest (held) answer through the proxy
	ProxyFailed    int     `json:"proxy_failed"`     // failed requests through the proxy
	ProxyOK        int     `json:"proxy_ok"`         // answered requests through the proxy
	How            string  `json:"how"`              // the copy step's note
	DataWrittenNow bool    `json:"data_written_now"` // the standby container's data was (re)written before this run
}

// BenchmarkSeedsMigration is issue 20's experiment 3 (VCRecovery's
// migration time and downtime), a measurement rather than a test, so CI
// neither runs nor skips it: bench/seeds-migration.sh runs it with
// -bench '^BenchmarkSeedsMigration$' -benchtime 1x. A warm service is
// failed over to its standby container, which gets SEEDS_MIG_MB (default
// 900) MB of random data of its own in /var/data; then `POST
// /v1/services/NAME/migrate` moves it to spare-1 (understudy's migration:
// hold at the proxy, stop-copy-start, DNS compare-and-swap, release) with
// migration.bandwidth SEEDS_MIG_BW (default 1Gbit; "none": no cap),
// SEEDS_MIG_RUNS times (default 3; a failback and a failover between runs),
// whatever b.N is. A client resolves the name at BIND and GETs it every 20
// ms, another GETs it through the proxy. Each run's figures go to
// SEEDS_MIG_OUT/run-*.json (default: a temporary directory, logged).
func BenchmarkSeedsMigration(b *testing.B) {
	out := os.Getenv("SEEDS_MIG_OUT")
	if out == "" {
		out = b.TempDir()
		b.Logf("SEEDS_MIG_OUT unset: the runs' figures go to %s", out)
	}
	runs, mb := envInt(b, "SEEDS_MIG_RUNS", 3), envInt(b, "SEEDS_MIG_MB", 900)
	bw := os.Getenv("SEEDS_MIG_BW")
	if bw == "" {
		bw = "1Gbit"
	}
	w := newWorldNamed(b, seedsMigPrefix, 108, map[string]string{"a": "warm"}, labtest.DNSBind, seedsMigPool, "{containers: 20, memory: 4GiB}")
	s := w.services[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(runs)*3*time.Minute+3*time.Minute)
	defer cancel()
	if bw != "none" {
		w.editInventory(func(text string) string { return text + "migration: {bandwidth: " + bw + "}\n" })
	}
	w.useSpare(ctx, b, s.Name)
	r := w.startController(monitor.Options{
		MoveInterval: time.Second,
		StandbyIncus: map[string]inventory.Incus{"t-e2e-standby": {Socket: w.lab.Standby.Socket}},
		SparePools: map[string]monitor.SparePool{"spare-1": {First: netip.MustParseAddr(seedsMigSpare1), Last: netip.MustParseAddr(seedsMigSpareN),
			Gateway: netip.MustParseAddr(w.lab.Spare.Gateway), PrefixLen: 24}},
	})
	r.waitPrepared(ctx, b, s.Name)
	purl := w.startProxy(r.url)
	if purl == "" {
		b.Fatal("the experiment measures through the proxy: it needs a raw ICMP socket")
	}
	for i := 1; i <= runs; i++ {
		res := seedsMigOnce(b, ctx, w, r, s, purl, mb)
		res.Run, res.Bandwidth = i, bw
		b.Logf("run %d: %+v", i, res)
		data, _ := json.MarshalIndent(res, "", "  ")
		name := filepath.Join(out, fmt.Sprintf("run-%s-%d.json", time.Now().UTC().Format("20060102T150405"), i))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			b.Fatal(err)
		}
		seedsMigBack(b, ctx, w, r, s)
	}
}

// seedsMigOnce fails s over (when it is on its primary), makes sure its
// standby container holds mb MB of data, and migrates it to spare-1 under
// both clients.
func seedsMigOnce(t testing.TB, ctx context.Context, w *world, r *running, s svc, purl string, mb int) seedsMigRun {
	t.Helper()
	if code, err := r.post(ctx, "/v1/services/"+s.Name+"/failover"); err != nil || code != http.StatusAccepted {
		t.Fatalf("failover: %d %v", code, err)
	}
	st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" && !st.LastIncident.Open })
	if err != nil {
		t.Fatalf("failover never reached on-standby: %v", err)
	}
	old, err := w.answersFromStandby(ctx, s)
	if err != nil {
		t.Fatalf("after failover: %v", err)
	}
	res := seedsMigRun{DataMB: mb, DataWrittenNow: seedsMigData(t, ctx, w, s.Name, mb)}
	host := strings.TrimSuffix(s.FQDN, ".")
	for proxyGet(ctx, http.DefaultClient, purl, host) != nil && ctx.Err() == nil {
		time.Sleep(stepWait)
	}
	dc, pcl := &addrClient{}, &proxyClient{}
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { dc.run(cctx, w.lab.DNSServer, s.FQDN) })
	wg.Go(func() { pcl.run(cctx, purl, host) })
	time.Sleep(500 * time.Millisecond)
	before := st.LastIncident.ID
	waitSpareMeasured(t, ctx, r.hc, r.url+"/v1/services/"+s.Name+"/migrate")
	start := time.Now()
	if code, body := postJSON(t, ctx, r.hc, r.url+"/v1/services/"+s.Name+"/migrate", `{"to":"spare-1","reason":"seeds experiment 3"}`); code != http.StatusAccepted {
		t.Fatalf("migrate: %d %s", code, body)
	}
	st, err = r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.LastIncident != nil && st.LastIncident.ID != before && !st.LastIncident.Open
	})
	if err != nil {
		t.Fatalf("migration never ended: %v", err)
	}
	res.MigrationS = time.Since(start).Seconds()
	logIncident(t, "migration", st.LastIncident, time.Since(start))
	if st.State != "on-spare" || st.Host != "spare-1" {
		t.Fatalf("after migration: %s on %s at %s; incident %+v", st.State, st.Host, st.Address, st.LastIncident)
	}
	for _, step := range st.LastIncident.Steps {
		if step.Kind == "copy" {
			res.CopyStepS, res.How = step.MS/1000, step.Note
		}
	}
	time.Sleep(time.Second) // both clients see the spare
	stop()
	wg.Wait()
	var at string
	res.DNSDowntimeS, res.DNSFailed, at = dc.downtime()
	pcl.mu.Lock()
	res.ProxyGapS, res.ProxySlowestS, res.ProxyFailed, res.ProxyOK = pcl.gap.Seconds(), pcl.slowest.Seconds(), pcl.fail, pcl.ok
	pcl.mu.Unlock()
	if at != st.Address || res.DNSDowntimeS <= 0 {
		t.Errorf("the DNS client went from %s to %s (want %s), longest gap %v s", old, at, st.Address, res.DNSDowntimeS)
	}
	return res
}

// seedsMigData makes sure container name on the standby holds mb MB in
// /var/data/blob, written from /dev/urandom inside it; it reports whether
// it had to write them.
func seedsMigData(t testing.TB, ctx context.Context, w *world, name string, mb int) bool {
	t.Helper()
	want := strconv.Itoa(mb * 1024 * 1024)
	got, err := w.standby.Exec(ctx, name, []string{"sh", "-c", "wc -c < /var/data/blob 2>/dev/null || echo 0"}, nil)
	if err != nil {
		t.Fatalf("look at the standby container's data: %v", err)
	}
	if strings.TrimSpace(string(got.Stdout)) == want {
		return false
	}
	start := time.Now()
	cmd := fmt.Sprintf("mkdir -p /var/data && dd if=/dev/urandom of=/var/data/blob bs=1048576 count=%d 2>/dev/null && sync && wc -c < /var/data/blob", mb)
	res, err := w.standby.Exec(ctx, name, []string{"sh", "-c", cmd}, nil)
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != want {
		t.Fatalf("write %d MB into %s: %v exit %d %q %q", mb, name, err, res.ExitCode, res.Stdout, res.Stderr)
	}
	t.Logf("wrote %d MB of random data into %s in %v", mb, name, time.Since(start))
	return true
}

// seedsMigBack restarts the fenced primary and fails s back to it, so the
// next run starts from the primary again.
func seedsMigBack(t testing.TB, ctx context.Context, w *world, r *running, s svc) {
	t.Helper()
	st, err := r.service(ctx, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.hostA.Start(ctx, s.VM); err != nil {
		t.Fatalf("restart the primary: %v", err)
	}
	if err := waitHTTP(ctx, s.Address, s.VM); err != nil {
		t.Fatalf("restarted primary: %v", err)
	}
	before := st.LastIncident.ID
	if code, body := postJSON(t, ctx, r.hc, r.url+"/v1/services/"+s.Name+"/failback", `{"reason":"seeds experiment 3: next run"}`); code != http.StatusAccepted {
		t.Fatalf("failback: %d %s", code, body)
	}
	if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.LastIncident != nil && st.LastIncident.ID != before && !st.LastIncident.Open && st.State == "primary"
	}); err != nil {
		t.Fatalf("failback never ended: %v", err)
	}
	r.waitPrepared(ctx, t, s.Name)
}

// addrClient resolves a name at BIND and GETs the address every 20 ms,
// keeping the longest gap between two successes (whatever the address: the
// source of a stop-copy-start may answer again at its old address before
// DNS names the target) and the failures.
type addrClient struct {
	mu   sync.Mutex
	prev time.Time // the latest success
	at   string    // the address of the latest success
	gap  time.Duration
	fail int
}

func (c *addrClient) run(ctx context.Context, server, name string) {
	for ctx.Err() == nil {
		addrs, err := lookupA(ctx, server, name)
		if err == nil && len(addrs) > 0 {
			gctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err = getBody(gctx, addrs[0])
			cancel()
		}
		now := time.Now()
		c.mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil || len(addrs) == 0:
			c.fail++
		default:
			if !c.prev.IsZero() {
				c.gap = max(c.gap, now.Sub(c.prev))
			}
			c.prev, c.at = now, addrs[0]
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// downtime is the longest gap between two successes, in seconds, the
// failed GETs, and the address of the latest success.
func (c *addrClient) downtime() (float64, int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gap.Seconds(), c.fail, c.at
}

// envInt reads a positive whole number from the environment, or def.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}
