package standby

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Prepare makes the service's container match spec and its mode: warm
// running, cold created and stopped, restore with a checkpoint (stateful
// only when CRIU works; otherwise prepared like cold). An active service
// (activated, not deactivated since) keeps serving: its spec and container
// config are updated, and the mode's state applies on Deactivate.
func (a *Agent) Prepare(ctx context.Context, spec ServiceSpec) (ServiceStatus, error) {
	if err := spec.Validate(); err != nil {
		return ServiceStatus{}, err
	}
	if err := a.epoch.Check(spec.Epoch); err != nil {
		return ServiceStatus{}, err
	}
	if err := checkDataDisk(spec.DataDisk); err != nil {
		return ServiceStatus{}, fmt.Errorf("prepare %q: %w", spec.Name, err)
	}
	unlock := a.lock(spec.Name)
	defer unlock()

	prev, existed := a.store.get(spec.Name)
	release := func() {}
	if spec.Mode == ModeWarm { // capacity is checked before anything is created
		var err error
		if release, err = a.reserve(spec.Name, spec.Memory); err != nil {
			return ServiceStatus{}, fmt.Errorf("prepare %q: %w", spec.Name, err)
		}
	}
	rec, err := a.store.put(record{Spec: spec}, a.cfg.Network)
	if err != nil {
		release()
		return ServiceStatus{}, fmt.Errorf("prepare %q: %w", spec.Name, err)
	}
	created, err := a.rt.Ensure(ctx, a.instanceSpec(rec))
	if err == nil && !a.isActive(spec.Name) {
		err = a.applyMode(ctx, rec)
	}
	if errors.Is(err, ErrNotServing) { // kept running: the next prepare checks again
		a.log.Warn("warm container does not serve", "service", spec.Name, "err", err)
		return ServiceStatus{}, fmt.Errorf("prepare %q: %w", spec.Name, err)
	}
	if err != nil {
		release()
		a.undoPrepare(prev, existed, created, spec.Name)
		return ServiceStatus{}, fmt.Errorf("prepare %q: %w", spec.Name, err)
	}
	a.log.Info("service prepared", "service", spec.Name, "mode", spec.Mode, "created", created, "address", rec.Address)
	st := ServiceStatus{Spec: spec, Running: a.isRunning(spec.Name)}
	if rec.Address.IsValid() {
		st.Address = rec.Address.String()
	}
	return st, nil
}

// undoPrepare restores the previous record and removes a container this
// prepare created, so a failed prepare leaves nothing behind.
func (a *Agent) undoPrepare(prev record, existed, created bool, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.base), 30*time.Second)
	defer cancel()
	if created {
		if err := a.rt.Delete(ctx, name); err != nil {
			a.log.Warn("remove container of failed prepare", "service", name, "err", err)
		}
		a.markStopped(name)
	}
	var err error
	if existed {
		_, err = a.store.put(prev, nil)
	} else {
		err = a.store.remove(name)
	}
	if err != nil {
		a.log.Warn("restore state of failed prepare", "service", name, "err", err)
	}
}

// applyMode brings an existing container into the prepared state of its mode.
func (a *Agent) applyMode(ctx context.Context, rec record) error {
	name := rec.Spec.Name
	st, err := a.rt.State(ctx, name)
	if err != nil {
		return fmt.Errorf("read state of %q: %w", name, err)
	}
	switch rec.Spec.Mode {
	case ModeWarm:
		if !st.Running {
			if err := a.rt.Start(ctx, name); err != nil {
				return fmt.Errorf("start container %q: %w", name, err)
			}
		}
		a.mu.Lock()
		a.running[name] = rec.Spec.Memory
		a.mu.Unlock()
		return a.waitServing(ctx, rec)
	case ModeRestore:
		a.setNoCheckpoint(name, "")
		if a.criu.Available && a.cp != nil {
			err := a.checkpoint(ctx, rec, st.Running)
			if err == nil {
				return nil
			}
			// Prepared like cold instead: activation starts it and says why.
			a.log.Warn("checkpoint failed; the service will cold start", "service", name, "err", err)
			a.setNoCheckpoint(name, "checkpoint failed: "+err.Error())
			if st, err = a.rt.State(ctx, name); err != nil {
				return fmt.Errorf("read state of %q: %w", name, err)
			}
		}
	}
	if st.Running {
		return a.stop(ctx, name)
	}
	a.markStopped(name)
	return nil
}

// waitServing waits until a warm container's port accepts a connection, or
// answers ErrNotServing after activate-timeout (the time an activation
// gives a started container to serve), or sooner when the caller's
// deadline is nearer: a container that runs but never serves, such as one
// whose boot hung, is not a standby, and one that is only slow is kept.
func (a *Agent) waitServing(ctx context.Context, rec record) error {
	name := rec.Spec.Name
	bound := time.Duration(a.cfg.ActivateTimeout)
	if d, ok := ctx.Deadline(); ok { // answer before the caller gives up
		bound = min(bound, max(time.Until(d)-serveAnswerMargin, 0))
	}
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	addr, err := a.rt.WaitIPv4(wctx, name, a.cfg.NIC)
	if err == nil {
		err = waitPort(wctx, addr, rec.Spec.Port)
	}
	if err != nil { // the container stays, whatever ended the wait
		return fmt.Errorf("%w: %q: %w", ErrNotServing, name, err)
	}
	return nil
}

// serveAnswerMargin is the time a warm prepare keeps, of its caller's
// deadline, to answer ErrNotServing before the caller gives up (and the
// prepare would otherwise be undone, the slow container deleted).
const serveAnswerMargin = time.Second

// checkpoint starts the container, waits for its port, takes a stateful
// snapshot and stops it. Only called when CRIU was proven to work.
func (a *Agent) checkpoint(ctx context.Context, rec record, running bool) error {
	name := rec.Spec.Name
	if !running {
		if err := a.startReserved(ctx, rec.Spec); err != nil {
			return err
		}
	}
	addr, err := a.rt.WaitIPv4(ctx, name, a.cfg.NIC)
	if err == nil {
		err = waitPort(ctx, addr, rec.Spec.Port)
	}
	if err == nil {
		err = a.cp.Snapshot(ctx, name, checkpointName, true)
	}
	if serr := a.stop(ctx, name); err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("checkpoint %q: %w", name, err)
	}
	return nil
}

// Activate makes the service serve: start (cold), check (warm), or restore
// (restore; a cold start when CRIU is unavailable), then wait for its address
// and open port. Concurrent calls for one service share one activation and
// its result; different services activate in parallel up to max-parallel.
func (a *Agent) Activate(ctx context.Context, epoch uint64, name string) (Activation, error) {
	if !a.Ready() {
		return Activation{}, ErrNotReady
	}
	if err := a.epoch.Check(epoch); err != nil {
		a.metrics.activations.WithLabelValues(name, "stale_epoch").Inc()
		return Activation{}, err
	}
	ch := a.flight.DoChan(name, func() (any, error) {
		ctx, cancel := context.WithTimeout(a.base, time.Duration(a.cfg.ActivateTimeout))
		defer cancel()
		return a.activate(ctx, name)
	})
	select {
	case <-ctx.Done():
		return Activation{}, fmt.Errorf("activate %q: %w", name, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return Activation{}, res.Err
		}
		return res.Val.(Activation), nil
	}
}

// activate runs one activation; Activate coalesces callers onto it.
func (a *Agent) activate(ctx context.Context, name string) (act Activation, err error) {
	begin := time.Now()
	rec, ok := a.store.get(name)
	if !ok {
		return Activation{}, fmt.Errorf("activate %q: %w", name, ErrNotFound)
	}
	mode := rec.Spec.Mode
	defer func() { a.observe(name, mode, begin, act, err) }()

	select {
	case a.sem <- struct{}{}:
		defer func() { <-a.sem }()
	case <-ctx.Done():
		return Activation{}, fmt.Errorf("activate %q: wait for a free activation slot: %w", name, ctx.Err())
	}
	unlock := a.lock(name)
	defer unlock()

	act = Activation{Service: name, Mode: mode}
	phase := func(n string, since time.Time) time.Time {
		now := time.Now()
		act.Phases = append(act.Phases, Phase{Name: n, MS: ms(now.Sub(since))})
		return now
	}
	if err := checkDataDisk(rec.Spec.DataDisk); err != nil && !a.isRunning(name) { // gone since prepare
		return Activation{}, fmt.Errorf("activate %q: %w", name, err)
	}
	t := time.Now()
	started, addr, err := a.bringUp(ctx, rec, &act)
	if err != nil {
		return Activation{}, fmt.Errorf("activate %q: %w", name, err)
	}
	t = phase(started, t)

	if !addr.IsValid() { // a running container's state already carried it
		addr, err = a.rt.WaitIPv4(ctx, name, a.cfg.NIC)
	}
	if err == nil {
		t = phase("address", t)
		err = waitPort(ctx, addr, rec.Spec.Port)
	}
	if err != nil {
		if started != "running" { // no partial start left behind
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if serr := a.stop(sctx, name); serr != nil {
				a.log.Warn("stop container after failed activation", "service", name, "err", serr)
			}
			cancel()
		}
		return Activation{}, fmt.Errorf("activate %q: %w", name, err)
	}
	phase("port", t)
	act.Address = addr.String()
	act.TookMS = ms(time.Since(begin))
	a.mu.Lock()
	a.active[name] = true
	a.mu.Unlock()
	a.kickShares()
	return act, nil
}

// bringUp starts, restores or finds running the container and returns the
// name of the phase it performed, and the IPv4 address when it already knows it.
func (a *Agent) bringUp(ctx context.Context, rec record, act *Activation) (string, netip.Addr, error) {
	name := rec.Spec.Name
	if a.isRunning(name) {
		st, err := a.rt.State(ctx, name)
		if err != nil && !errors.Is(err, errInstanceNotFound) {
			return "", netip.Addr{}, fmt.Errorf("read state of %q: %w", name, err)
		}
		if st.Running {
			for _, ip := range st.Addresses[a.cfg.NIC] {
				if ip.Is4() {
					return "running", ip, nil
				}
			}
			return "running", netip.Addr{}, nil
		}
		a.markStopped(name) // stopped behind our back: start it below
	}
	if rec.Spec.Mode == ModeRestore {
		restored, reason, err := a.tryRestore(ctx, rec)
		if err != nil {
			return "", netip.Addr{}, err
		}
		if restored {
			act.Restored = true
			return "restore", netip.Addr{}, nil
		}
		act.FallbackReason = "cold start: " + reason
	}
	if err := a.startReserved(ctx, rec.Spec); err != nil {
		return "", netip.Addr{}, err
	}
	return "start", netip.Addr{}, nil
}

// tryRestore restores a restore-mode service from its checkpoint. When it
// cannot (CRIU unavailable, no checkpoint taken, or the restore failed) it
// returns why, and the caller cold starts instead: a failed restore must not
// fail the failover. Only a lack of capacity is an error.
func (a *Agent) tryRestore(ctx context.Context, rec record) (restored bool, reason string, err error) {
	name := rec.Spec.Name
	switch why := a.noCheckpoint(name); {
	case !a.criu.Available || a.cp == nil:
		return false, "restore " + a.criu.String(), nil
	case why != "":
		return false, why, nil
	}
	release, err := a.reserve(name, rec.Spec.Memory)
	if err != nil {
		return false, "", err
	}
	rerr := a.cp.Restore(ctx, name, checkpointName, true)
	if rerr == nil {
		return true, "", nil
	}
	release()
	a.log.Warn("restore failed; cold starting instead", "service", name, "err", rerr)
	if st, err := a.rt.State(ctx, name); err == nil && st.Running { // half restored: start clean
		if err := a.stop(ctx, name); err != nil {
			return false, "", fmt.Errorf("restore container %q failed (%v), and stopping it for a cold start: %w", name, rerr, err)
		}
	}
	return false, "restore failed: " + rerr.Error(), nil
}

func (a *Agent) observe(name string, mode Mode, begin time.Time, act Activation, err error) {
	result := "ok"
	switch {
	case errors.Is(err, ErrNoCapacity):
		result = "no_capacity"
	case err != nil:
		result = "error"
	case act.FallbackReason != "":
		result = "fallback"
	}
	a.metrics.activations.WithLabelValues(name, result).Inc()
	if err != nil {
		a.log.Warn("activation failed", "service", name, "mode", mode, "err", err)
		return
	}
	a.metrics.duration.WithLabelValues(string(mode)).Observe(time.Since(begin).Seconds())
	a.log.Info("service activated", "service", name, "mode", mode, "address", act.Address,
		"restored", act.Restored, "fallback", act.FallbackReason, "took_ms", act.TookMS)
}

// Deactivate returns an activated service to its prepared state: warm stays
// running, cold and restore are stopped (a restore checkpoint stays as it was).
func (a *Agent) Deactivate(ctx context.Context, epoch uint64, name string) (ServiceStatus, error) {
	if err := a.epoch.Check(epoch); err != nil {
		return ServiceStatus{}, err
	}
	unlock := a.lock(name)
	defer unlock()
	rec, ok := a.store.get(name)
	if !ok {
		return ServiceStatus{}, fmt.Errorf("deactivate %q: %w", name, ErrNotFound)
	}
	var err error
	switch {
	case rec.Spec.Mode == ModeWarm:
		err = a.applyMode(ctx, rec) // keeps it running, restarts it if it died
	case a.isRunning(name):
		err = a.stop(ctx, name) // cold and restore: the checkpoint stays
	}
	if err != nil {
		return ServiceStatus{}, fmt.Errorf("deactivate %q: %w", name, err)
	}
	a.mu.Lock()
	delete(a.active, name)
	a.mu.Unlock()
	a.kickShares()
	st := ServiceStatus{Spec: rec.Spec, Running: a.isRunning(name)}
	if rec.Address.IsValid() {
		st.Address = rec.Address.String()
	}
	return st, nil
}

// Delete removes the service's container and forgets the service, freeing its address.
func (a *Agent) Delete(ctx context.Context, epoch uint64, name string) error {
	if err := a.epoch.Check(epoch); err != nil {
		return err
	}
	unlock := a.lock(name)
	defer unlock()
	if _, ok := a.store.get(name); !ok {
		return fmt.Errorf("delete %q: %w", name, ErrNotFound)
	}
	if err := a.rt.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete container %q: %w", name, err)
	}
	a.markStopped(name)
	a.setNoCheckpoint(name, "")
	a.mu.Lock()
	delete(a.active, name)
	a.mu.Unlock()
	a.kickShares()
	if err := a.store.remove(name); err != nil {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
