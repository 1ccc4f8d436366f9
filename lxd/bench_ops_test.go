package lxd

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// BenchmarkOps times, per iteration, one container's life on standby-1
// (over HTTPS, the server Connect found: Incus or LXD): create from the
// local image alias; start (the API call); start until HTTP answers; freeze;
// stop-copy-start to spare-1 (pull, the source restarted); forced stop. The
// unfreeze, the copy's deletion and the container's are not timed. Every
// value is printed as a line "ops-sample SERVER VERSION OP MS" (stdout, as
// the e2e benchmarks print their tables; bench/hypervisors.sh reads them).
func BenchmarkOps(b *testing.B) {
	lab := labtest.Require(b)
	src := connectHTTPS(b, lab, lab.Standby)
	dst := connectHTTPS(b, lab, lab.Spare)
	const name = "t-lxd-bops"
	addr := netip.MustParseAddr("10.200.1.199")
	spec := labSpec(lab, name, addr.String(), lab.Standby.Gateway)
	cleanup(b, src, name)
	cleanup(b, dst, name)
	b.Cleanup(func() { cleanup(b, src, name); cleanup(b, dst, name) })
	copyOpts := CopyOptions{Start: true, Config: map[string]string{"environment.IPADDR": "10.200.2.199/24", "environment.GATEWAY": lab.Spare.Gateway}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	series := map[string][]time.Duration{}
	timed := func(op string, fn func() error) {
		b.StartTimer()
		t0 := time.Now()
		err := fn()
		d := time.Since(t0)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%s: %v", op, err)
		}
		series[op] = append(series[op], d)
	}
	b.StopTimer()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timed("create", func() error { _, err := src.Ensure(ctx, spec); return err })
		var started time.Time
		timed("start", func() error { started = time.Now(); return src.Start(ctx, name) })
		if _, err := httpBody(ctx, addr); err != nil {
			b.Fatal(err)
		}
		series["start-http"] = append(series["start-http"], time.Since(started))
		timed("freeze", func() error { return src.Freeze(ctx, name) })
		if err := src.Unfreeze(ctx, name); err != nil {
			b.Fatal(err)
		}
		timed("stop-copy-start", func() error { return src.Copy(ctx, dst, name, copyOpts) })
		if err := dst.Delete(ctx, name); err != nil {
			b.Fatal(err)
		}
		timed("forced-stop", func() error { return src.Stop(ctx, name, 0) })
		if err := src.Delete(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	medians := map[string][]time.Duration{}
	for op, ds := range series {
		medians["median-"+op+"-ms"] = ds
	}
	reportMedians(b, medians)
	printSamples(src.Server(), series)
}

// printSamples prints every timed value on its own line.
func printSamples(srv ServerInfo, series map[string][]time.Duration) {
	for op, ds := range series {
		for _, d := range ds {
			fmt.Printf("ops-sample %s %s %s %.1f\n", srv.Server, srv.Version, op, float64(d)/float64(time.Millisecond))
		}
	}
}
