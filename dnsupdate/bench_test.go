package dnsupdate

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// BenchmarkReplaceBIND measures one signed compare-and-swap replace against
// the lab's BIND on loopback, including Replace's own verification query.
// It reports the median as p50-ms besides the mean ns/op.
func BenchmarkReplaceBIND(b *testing.B) {
	_, c, name := labFixture(b, "bench")
	benchReplace(b, c, name)
}

// BenchmarkReplaceServers is BenchmarkReplaceBIND against each of the lab's
// DNS servers (BIND, Knot DNS, PowerDNS), one sub-benchmark each, so they
// compare within one run.
func BenchmarkReplaceServers(b *testing.B) {
	lab := labtest.Require(b)
	for _, srv := range lab.DNSServers() {
		b.Run(srv.Name, func(b *testing.B) {
			labtest.RequireDNS(b, srv)
			c, name := serverFixture(b, lab, srv, "bench")
			benchReplace(b, c, name)
		})
	}
}

// benchReplace swaps name between two addresses with compare-and-swap
// replaces and reports their median.
func benchReplace(b *testing.B, c *Client, name string) {
	ctx := context.Background()
	sets := [][]netip.Addr{addrs("10.200.0.106"), addrs("10.200.1.106")}
	if err := c.Replace(ctx, name, sets[0], 10*time.Second, nil); err != nil {
		b.Fatal(err)
	}
	took := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		from, to := sets[i%2], sets[(i+1)%2]
		start := time.Now()
		if err := c.Replace(ctx, name, to, 10*time.Second, from); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		i++
	}
	reportMedian(b, took)
}

// BenchmarkVerifySecondaryBIND measures what the monitor's dns-replace does
// with dns.verify: a signed compare-and-swap at the lab's primary BIND, then
// the wait until its secondary (zone transfer on NOTIFY) answers the new
// address. p50-ms is the median of the whole; verify-p50-ms of the wait alone.
func BenchmarkVerifySecondaryBIND(b *testing.B) {
	lab, c, name := labFixture(b, "benchv")
	ctx := context.Background()
	sets := [][]netip.Addr{addrs("10.200.0.105"), addrs("10.200.1.105")}
	if err := c.Replace(ctx, name, sets[0], 10*time.Second, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Verify(ctx, name, sets[0], []string{lab.DNSSecondary}); err != nil {
		b.Fatalf("the lab's secondary %s: %v", lab.DNSSecondary, err)
	}
	took := make([]time.Duration, 0, b.N)
	wait := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		from, to := sets[i%2], sets[(i+1)%2]
		start := time.Now()
		if err := c.Replace(ctx, name, to, 10*time.Second, from); err != nil {
			b.Fatal(err)
		}
		swapped := time.Now()
		if _, err := c.Verify(ctx, name, to, []string{lab.DNSSecondary}); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		wait = append(wait, time.Since(swapped))
		i++
	}
	reportMedian(b, took)
	slices.Sort(wait)
	b.ReportMetric(float64(wait[len(wait)/2])/float64(time.Millisecond), "verify-p50-ms")
}

// BenchmarkNsupdateBIND runs BIND's reference client, nsupdate -k, as a
// process per iteration, for comparison with BenchmarkReplaceBIND.
func BenchmarkNsupdateBIND(b *testing.B) {
	lab, _, name := labFixture(b, "nsupd")
	if _, err := exec.LookPath("nsupdate"); err != nil {
		b.Skip("nsupdate is not installed (Debian package bind9-dnsutils)")
	}
	host, port, _ := strings.Cut(lab.DNSServer, ":")
	took := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		script := fmt.Sprintf("server %s %s\nzone %s\nupdate delete %s A\nupdate add %s 10 A 10.200.0.%d\nsend\n",
			host, port, lab.Zone, name, name, 107+i%2)
		cmd := exec.Command("nsupdate", "-k", lab.KeyFile)
		cmd.Stdin = strings.NewReader(script)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("nsupdate: %v: %s", err, out)
		}
		took = append(took, time.Since(start))
		i++
	}
	reportMedian(b, took)
}

func reportMedian(b *testing.B, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/float64(time.Millisecond), "p50-ms")
}

// BenchmarkLookupBIND measures one signed Lookup (an A and an AAAA query)
// against the lab's BIND: the share of BenchmarkReplaceBIND spent verifying.
func BenchmarkLookupBIND(b *testing.B) {
	_, c, name := labFixture(b, "benchq")
	ctx := context.Background()
	if err := c.Replace(ctx, name, addrs("10.200.0.108"), 10*time.Second, nil); err != nil {
		b.Fatal(err)
	}
	took := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if _, err := c.Lookup(ctx, name); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	reportMedian(b, took)
}
