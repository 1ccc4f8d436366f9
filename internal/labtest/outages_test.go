package labtest

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOutagesLongestInterruption(t *testing.T) {
	var o Outages
	t0 := time.Unix(1000, 0)
	down := errors.New("down")
	for _, r := range []struct {
		at  time.Duration
		err error
	}{{0, nil}, {10, down}, {20, down}, {50, nil}, {60, down}, {70, nil}, {80, down}} {
		o.Record(t0.Add(r.at*time.Millisecond), r.err)
	}
	ok, fail, worst := o.Report()
	if ok != 3 || fail != 4 || worst != 40*time.Millisecond {
		t.Errorf("Report() = %d ok, %d failed, worst %v; want 3, 4, 40ms (the open outage at the end is not closed)", ok, fail, worst)
	}
}

func TestOutagesLoopStopsWithTheContext(t *testing.T) {
	var o Outages
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	o.Loop(ctx, time.Millisecond, func(context.Context) error {
		if tries++; tries == 3 {
			cancel() // this try does not count
		}
		return nil
	})
	if ok, fail, _ := o.Report(); ok != 2 || fail != 0 {
		t.Errorf("after 3 tries, the last cut short: %d ok, %d failed; want 2, 0", ok, fail)
	}
}
