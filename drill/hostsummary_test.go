package drill

import "testing"

func p64(v int64) *int64 { return &v }

// TestSummarize: the totals of four services, one of which did not
// recover: p50 and p95 over the three that did, no all-served time, the
// outage errors, and the slowest step by its median.
func TestSummarize(t *testing.T) {
	svc := func(name string, rec *int64, detected, activated int64, failed int) Result {
		r := Result{Service: name, Via: ViaProxy, RecoveryMS: rec}
		r.Phases.Detected, r.Phases.ActivationStarted, r.Phases.Activated = p64(detected), p64(detected), p64(activated)
		r.Requests.Proxy = PathCount{OK: 10, Failed: failed, FailedBefore: 1}
		return r
	}
	h := &HostResult{Services: []Result{
		svc("a", p64(1000), 300, 900, 1), svc("b", p64(3000), 300, 2800, 3),
		svc("c", p64(2000), 400, 1800, 1), svc("d", nil, 300, 900, 5),
	}}
	Summarize(h)
	if h.Verdict != NotRecovered || h.Total != 4 || h.Recovered != 3 || h.AllServedMS != nil {
		t.Errorf("verdict %s, %d of %d, all served %v", h.Verdict, h.Recovered, h.Total, deref(h.AllServedMS))
	}
	if *h.P50MS != 2000 || *h.P95MS != 3000 {
		t.Errorf("p50 %d, p95 %d; want 2000 and 3000", *h.P50MS, *h.P95MS)
	}
	if h.Requests.Proxy.OK != 40 || OutageFailed(h.Requests.Proxy) != 6 {
		t.Errorf("proxy %+v: want 40 ok, 6 failed during the outage", h.Requests.Proxy)
	}
	if h.SlowestStep != "activate" {
		t.Errorf("slowest step %q, want activate; steps %+v", h.SlowestStep, h.Steps)
	}
	h.Services = h.Services[:3]
	Summarize(h)
	if h.Verdict != Recovered || h.AllServedMS == nil || *h.AllServedMS != 3000 {
		t.Errorf("three recovered: verdict %s, all served %v; want recovered at 3000", h.Verdict, deref(h.AllServedMS))
	}
}

// TestRank: nearest rank, the smallest value with p % at or below it.
func TestRank(t *testing.T) {
	v := []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for p, want := range map[int]int64{50: 50, 95: 100, 90: 90, 100: 100, 1: 10} {
		if got := *rank(v, p); got != want {
			t.Errorf("rank(%d) = %d, want %d", p, got, want)
		}
	}
	if got := *rank([]int64{7}, 95); got != 7 {
		t.Errorf("rank of one value = %d, want 7", got)
	}
}
