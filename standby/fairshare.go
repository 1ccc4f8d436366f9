package standby

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/understudy/understudy/standby/fairshare"
)

// Fair sharing of the standby VM. While several services are active on it,
// the agent divides CPU and memory among their containers by priority and
// sets their live limits through the runtime (Ensure updates the config of
// an existing instance; Incus/LXD applies limits to a running container at
// once): limits.cpu.allowance as a percentage (a soft limit: a container
// may use idle CPU, but under contention gets its share) and limits.memory
// (its reserved memory plus its share of the unreserved rest); package
// standby/fairshare computes the shares. They are recomputed when a service
// is activated, deactivated or deleted. Sharing
// starts when a second service is active: a lone active container has no
// one to share with and keeps its prepared limits, so a single failover
// writes no config. Services that are prepared but not active (warm
// containers idling) keep their prepared limits.

// allowanceKey is the Incus/LXD config key of the CPU share.
const allowanceKey = "limits.cpu.allowance"

// kickShares asks the share loop to recompute; it never blocks.
func (a *Agent) kickShares() {
	select {
	case a.shareKick <- struct{}{}:
	default:
	}
}

// shareRetry is the pause before a failed rebalance is tried again.
const shareRetry = 5 * time.Second

// shareLoop rebalances whenever kicked, and again a while after a failure,
// until ctx ends. Run owns it.
func (a *Agent) shareLoop(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.shareKick:
		case <-retry.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := a.Rebalance(rctx); err != nil {
			a.log.Warn("apply fair shares; will retry", "err", err, "in", shareRetry)
			retry.Reset(shareRetry)
		}
		cancel()
	}
}

// Rebalance computes the shares of the active services and sets the
// limits of every container whose share changed; a container that left
// gets its prepared limits back. Errors of single containers are joined;
// the others are still applied, and the next Rebalance applies every
// container again.
func (a *Agent) Rebalance(ctx context.Context) error {
	a.shareMu.Lock() // one rebalance at a time, so limits are applied in order
	defer a.shareMu.Unlock()
	a.mu.Lock()
	active := slices.Sorted(maps.Keys(a.active))
	prev := maps.Clone(a.shares)
	a.mu.Unlock()
	force, leftovers := a.shareFailed, a.shareLeft
	a.shareFailed, a.shareLeft = false, nil
	var members []fairshare.Member
	for _, name := range active {
		if rec, ok := a.store.get(name); ok {
			members = append(members, fairshare.Member{Name: name, Priority: rec.Spec.Priority, Memory: rec.Spec.Memory})
		}
	}
	if len(members) < 2 {
		members = nil // nothing to share
	}
	next := map[string]fairshare.Share{}
	for _, s := range fairshare.Compute(members, int64(a.cfg.Capacity.Memory)) {
		next[s.Service] = s
	}
	a.mu.Lock()
	a.shares = next
	a.mu.Unlock()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(next)) {
		if old, ok := prev[name]; force || !ok || old != next[name] {
			errs = append(errs, a.applyLimits(ctx, name))
		}
	}
	left := leftovers
	for name := range prev {
		if _, ok := next[name]; !ok && !slices.Contains(left, name) {
			left = append(left, name)
		}
	}
	slices.Sort(left)
	for _, name := range left {
		if _, ok := next[name]; ok {
			continue // it came back
		}
		if err := a.applyLimits(ctx, name); err != nil {
			errs = append(errs, err)
			a.shareLeft = append(a.shareLeft, name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		a.shareFailed = true
		return err
	}
	if len(next) > 0 || len(prev) > 0 {
		a.log.Info("fair shares applied", "active", len(next), "shares", shareSummary(next))
	}
	return nil
}

// applyLimits sets name's container limits to its current share, or back to
// its prepared limits when it has none. A service that was deleted, or a
// container that is gone (moved to a spare), is left alone.
func (a *Agent) applyLimits(ctx context.Context, name string) error {
	unlock := a.lock(name)
	defer unlock()
	rec, ok := a.store.get(name)
	if !ok {
		return nil
	}
	if _, err := a.rt.State(ctx, name); errors.Is(err, errInstanceNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("set limits of %q: read state: %w", name, err)
	}
	spec := a.instanceSpec(rec)
	if _, shared := spec.Config[allowanceKey]; !shared {
		spec.Config[allowanceKey] = "100%"
		if spec.Memory == 0 {
			spec.Memory = int64(a.cfg.Capacity.Memory)
		}
	}
	if _, err := a.rt.Ensure(ctx, spec); err != nil {
		return fmt.Errorf("set limits of %q: %w", name, err)
	}
	return nil
}

// withShare applies name's current share, if any, to its instance spec.
func (a *Agent) withShare(spec *InstanceSpec) {
	a.mu.Lock()
	s, ok := a.shares[spec.Name]
	a.mu.Unlock()
	if !ok {
		return
	}
	spec.Config[allowanceKey] = fmt.Sprintf("%d%%", s.CPUAllowance)
	if s.Memory > 0 {
		spec.Memory = s.Memory
	}
}

// containerShares lists the current shares with each container's use when
// the runtime reports it.
func (a *Agent) containerShares() []ContainerShare {
	a.mu.Lock()
	shares := slices.Collect(maps.Values(a.shares))
	a.mu.Unlock()
	slices.SortFunc(shares, func(x, y fairshare.Share) int { return cmp.Compare(x.Service, y.Service) })
	ur, _ := a.rt.(UsageReader)
	out := make([]ContainerShare, len(shares))
	for i, s := range shares {
		out[i] = ContainerShare{Share: s}
		if ur == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(a.base, 2*time.Second)
		cpu, mem, err := ur.Usage(ctx, s.Service)
		cancel()
		if err == nil {
			out[i].Use = &Usage{CPUSeconds: cpu, MemoryBytes: mem}
		}
	}
	return out
}

func shareSummary(m map[string]fairshare.Share) string {
	var s string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%s=%d%%/%dMiB", name, m[name].CPUAllowance, m[name].Memory>>20)
	}
	return s
}

// UsageReader is implemented by runtimes that report a container's use
// (Incus/LXD's instance state has both); GET /v1/capacity shows it next to
// each share when the runtime does. Plain numbers, so the lxd adapter can
// implement it without importing this package.
type UsageReader interface {
	Usage(ctx context.Context, name string) (cpuSeconds float64, memoryBytes int64, err error)
}
