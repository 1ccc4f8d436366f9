package drill

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	"github.com/understudy/understudy/lxd"
)

// Fault is one injected failure. Inject puts it in place; Remove takes it
// away again and is safe to call more than once, after a failed or partial
// Inject, and when the target changed meanwhile (a fenced VM).
type Fault interface {
	Inject(ctx context.Context) error
	Remove(ctx context.Context) error
}

// Hypervisor is what the faults need from the primary's hypervisor API;
// *lxd.Client satisfies it.
type Hypervisor interface {
	State(ctx context.Context, name string) (lxd.State, error)
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string, timeout time.Duration) error
	Freeze(ctx context.Context, name string) error
	Unfreeze(ctx context.Context, name string) error
	Exec(ctx context.Context, name string, argv []string, env map[string]string) (lxd.ExecResult, error)
}

// Runner runs a command on the machine the drill runs on (the lab's
// hypervisor) and returns its combined output.
type Runner interface {
	Run(ctx context.Context, argv ...string) ([]byte, error)
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// Run runs argv and returns its combined output; a non-zero exit is an error
// that carries the output.
func (ExecRunner) Run(ctx context.Context, argv ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("run %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Target is the primary a fault hits.
type Target struct {
	Instance string     // instance name on the hypervisor
	Address  netip.Addr // the primary's address
}

// ServiceScript is the service control script of the lab's busybox image.
const ServiceScript = "/sbin/understudy-service"

// NewFault returns the fault of kind against target. hv is needed by
// vm-stop, vm-freeze and service-stop; run by blackhole and host-down, and
// by vm-freeze, which with a run also drops the instance's traffic (see
// vmFreeze).
func NewFault(kind Kind, target Target, hv Hypervisor, run Runner) (Fault, error) {
	switch kind {
	case VMStop:
		return &vmStop{hv: hv, t: target}, nil
	case VMFreeze:
		f := &vmFreeze{hv: hv, t: target}
		if run != nil {
			f.drop = &blackhole{run: run, t: target}
		}
		return f, nil
	case ServiceStop:
		return &serviceStop{hv: hv, t: target}, nil
	case Blackhole:
		return &blackhole{run: run, t: target}, nil
	case HostDown:
		return &hostDown{run: run, t: target}, nil
	}
	return nil, fmt.Errorf("inject %q: %w", kind, ErrUnknownKind)
}

// The faults NewFault returns.
var (
	_ Fault = (*vmStop)(nil)
	_ Fault = (*vmFreeze)(nil)
	_ Fault = (*serviceStop)(nil)
	_ Fault = (*blackhole)(nil)
	_ Fault = (*hostDown)(nil)
)

// vmStop force-stops the primary; Remove starts it again.
type vmStop struct {
	hv Hypervisor
	t  Target
}

func (f *vmStop) Inject(ctx context.Context) error {
	if err := f.hv.Stop(ctx, f.t.Instance, 0); err != nil {
		return fmt.Errorf("force-stop %q: %w", f.t.Instance, err)
	}
	return nil
}

func (f *vmStop) Remove(ctx context.Context) error {
	if err := f.hv.Start(ctx, f.t.Instance); err != nil {
		return fmt.Errorf("start %q again: %w", f.t.Instance, err)
	}
	return nil
}

// vmFreeze emulates a paused VM: it drops the primary's traffic (drop, the
// blackhole's rules, when a Runner was given) and freezes it. A frozen
// container alone is not a paused VM: the host kernel still answers ARP,
// ICMP and TCP handshakes for it. Remove thaws it if it is still frozen
// (the monitor's fence may have stopped it meanwhile, which is left as is),
// then deletes the rules.
type vmFreeze struct {
	hv   Hypervisor
	t    Target
	drop *blackhole // nil: the freeze alone
}

func (f *vmFreeze) Inject(ctx context.Context) error {
	if f.drop != nil {
		if err := f.drop.Inject(ctx); err != nil {
			return fmt.Errorf("drop the traffic of %q: %w", f.t.Instance, err)
		}
	}
	if err := f.hv.Freeze(ctx, f.t.Instance); err != nil {
		return fmt.Errorf("freeze %q: %w", f.t.Instance, err)
	}
	return nil
}

func (f *vmFreeze) Remove(ctx context.Context) error {
	errs := []error{f.thaw(ctx)}
	if f.drop != nil {
		errs = append(errs, f.drop.Remove(ctx))
	}
	return errJoin(errs)
}

func (f *vmFreeze) thaw(ctx context.Context) error {
	st, err := f.hv.State(ctx, f.t.Instance)
	if err != nil {
		return fmt.Errorf("read the state of %q: %w", f.t.Instance, err)
	}
	if !st.Frozen {
		return nil
	}
	if err := f.hv.Unfreeze(ctx, f.t.Instance); err != nil {
		return fmt.Errorf("unfreeze %q: %w", f.t.Instance, err)
	}
	return nil
}

// serviceStop stops the service inside the primary; Remove starts it again
// when the instance still runs.
type serviceStop struct {
	hv      Hypervisor
	t       Target
	stopped bool // Inject ran; Remove has not yet restarted it
}

func (f *serviceStop) Inject(ctx context.Context) error {
	f.stopped = true
	return f.exec(ctx, "stop")
}

func (f *serviceStop) Remove(ctx context.Context) error {
	if !f.stopped {
		return nil
	}
	st, err := f.hv.State(ctx, f.t.Instance)
	if err != nil {
		return fmt.Errorf("read the state of %q: %w", f.t.Instance, err)
	}
	if st.Running {
		if err := f.exec(ctx, "start"); err != nil {
			// The monitor's background force-stop may have been under
			// way (the daemon says Running until the instance is gone),
			// and every exec into it fails: stopped now is removed.
			if now, serr := f.hv.State(ctx, f.t.Instance); serr != nil || now.Running {
				return err
			}
		}
	} // else fenced or stopped: nothing runs that could serve
	f.stopped = false
	return nil
}

// serviceExecAttempts bounds how often serviceStop runs the service script
// when the exec fails or the script exits non-zero. The script is
// idempotent (start leaves a running httpd alone, stop a stopped one), and
// both happen to a stop that did its work: LXD 5.0's exec sometimes fails
// on a command that ends at once ("Failed to retrieve PID of executing
// child process"), and the script's last check can still see an httpd
// that its SIGKILL has not yet taken (exit 1). Running it again is safe.
const serviceExecAttempts = 3

func (f *serviceStop) exec(ctx context.Context, verb string) error {
	var err error
	for n := 1; n <= serviceExecAttempts && ctx.Err() == nil; n++ {
		var res lxd.ExecResult
		res, err = f.hv.Exec(ctx, f.t.Instance, []string{ServiceScript, verb}, nil)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("%s exited %d: %s", ServiceScript, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
		}
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s the service in %q (%d attempts): %w", verb, f.t.Instance, serviceExecAttempts, err)
}

// bridgeOf asks the kernel which interface reaches addr ("ip route get").
func bridgeOf(ctx context.Context, run Runner, addr netip.Addr) (string, error) {
	out, err := run.Run(ctx, "ip", "-o", "route", "get", addr.String())
	if err != nil {
		return "", fmt.Errorf("find the interface to %s: %w", addr, err)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1], nil
		}
	}
	return "", fmt.Errorf("find the interface to %s: no dev in %q", addr, strings.TrimSpace(string(out)))
}

// errJoin joins the errors of a multi-step removal.
func errJoin(errs []error) error { return errors.Join(errs...) }
