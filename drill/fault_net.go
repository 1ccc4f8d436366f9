package drill

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// blackhole drops every packet to and from the primary's address on the
// hypervisor: in FORWARD (routed traffic, e.g. from the standby subnet) and
// in OUTPUT/INPUT (the hypervisor's own traffic, which in the lab is the
// monitor's, the proxy's and the clients'). Each rule carries a comment so
// Remove deletes exactly the rules it added.
type blackhole struct {
	run    Runner
	t      Target
	bridge string
}

func (f *blackhole) comment() string { return "understudy-drill " + f.t.Address.String() }

// rules are the iptables rule specs (chain first) of the blackhole.
func (f *blackhole) rules() [][]string {
	a, br, c := f.t.Address.String(), f.bridge, f.comment()
	tail := []string{"-m", "comment", "--comment", c, "-j", "DROP"}
	return [][]string{
		append([]string{"FORWARD", "-d", a}, tail...),
		append([]string{"FORWARD", "-s", a}, tail...),
		append([]string{"OUTPUT", "-o", br, "-d", a}, tail...),
		append([]string{"INPUT", "-i", br, "-s", a}, tail...),
	}
}

func (f *blackhole) Inject(ctx context.Context) error {
	br, err := bridgeOf(ctx, f.run, f.t.Address)
	if err != nil {
		return err
	}
	f.bridge = br
	for _, r := range f.rules() {
		argv := append([]string{"iptables", "-w", "-I"}, r...)
		if _, err := f.run.Run(ctx, argv...); err != nil {
			return fmt.Errorf("blackhole %s on %s: %w", f.t.Address, br, err)
		}
	}
	return nil
}

func (f *blackhole) Remove(ctx context.Context) error {
	if f.bridge == "" {
		return nil // never injected
	}
	var errs []error
	for _, r := range f.rules() {
		// Delete every copy: -D removes one rule per call. iptables -C says
		// whether a copy is left (exit status 0) or not (non-zero); Inject
		// ran iptables already, so a failing -C means the rule is gone and
		// no error text is read.
		for range 10 {
			if _, err := f.run.Run(ctx, append([]string{"iptables", "-w", "-C"}, r...)...); err != nil {
				break
			}
			if _, err := f.run.Run(ctx, append([]string{"iptables", "-w", "-D"}, r...)...); err != nil {
				errs = append(errs, fmt.Errorf("remove the blackhole of %s: %w", f.t.Address, err))
				break
			}
		}
	}
	return errJoin(errs)
}

// hostDown takes the bridge that reaches the primary down, cutting every VM
// of the hypervisor; Remove brings it up again. While the bridge is down its
// connected route is gone, so the bridge's subnet would follow the default
// route off the machine: an "unreachable" route for the subnet (with a high
// metric, so it never wins while the bridge is up) keeps that traffic here.
type hostDown struct {
	run    Runner
	t      Target
	bridge string
	subnet string
}

// hostDownMetric is the metric of the unreachable route; the connected
// route (metric 0) wins over it while the bridge is up.
const hostDownMetric = "4242"

func (f *hostDown) Inject(ctx context.Context) error {
	br, err := bridgeOf(ctx, f.run, f.t.Address)
	if err != nil {
		return err
	}
	subnet, err := subnetOf(ctx, f.run, br)
	if err != nil {
		return err
	}
	f.bridge, f.subnet = br, subnet
	if _, err := f.run.Run(ctx, "ip", "route", "replace", "unreachable", subnet, "metric", hostDownMetric); err != nil {
		return fmt.Errorf("keep %s on this machine: %w", subnet, err)
	}
	if _, err := f.run.Run(ctx, "ip", "link", "set", br, "down"); err != nil {
		return fmt.Errorf("take %s down: %w", br, err)
	}
	return nil
}

func (f *hostDown) Remove(ctx context.Context) error {
	if f.bridge == "" {
		return nil
	}
	if _, err := f.run.Run(ctx, "ip", "link", "set", f.bridge, "up"); err != nil {
		return fmt.Errorf("bring %s up again: %w", f.bridge, err)
	}
	if _, err := f.run.Run(ctx, "ip", "route", "del", "unreachable", f.subnet, "metric", hostDownMetric); err != nil {
		return fmt.Errorf("remove the unreachable route of %s: %w", f.subnet, err)
	}
	f.bridge = ""
	return nil
}

// subnetOf returns the first IPv4 subnet of the interface (e.g. 10.200.0.0/24).
func subnetOf(ctx context.Context, run Runner, dev string) (string, error) {
	out, err := run.Run(ctx, "ip", "-o", "-4", "addr", "show", "dev", dev)
	if err != nil {
		return "", fmt.Errorf("read the address of %s: %w", dev, err)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "inet" {
			p, err := netip.ParsePrefix(f[i+1])
			if err != nil {
				return "", fmt.Errorf("address of %s: %w", dev, err)
			}
			return p.Masked().String(), nil
		}
	}
	return "", fmt.Errorf("%s has no IPv4 address: %q", dev, strings.TrimSpace(string(out)))
}
