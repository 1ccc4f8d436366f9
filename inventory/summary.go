package inventory

import (
	"fmt"
	"strings"
)

// Summary describes the inventory in one line, such as
// "3 hypervisors, 12 VMs, 20 services (14 warm, 6 cold), 2 standby VMs, 3 spares".
func (inv *Inventory) Summary() string {
	modes := map[Mode]int{}
	for _, s := range inv.Services {
		modes[s.Mode]++
	}
	var split []string
	for _, m := range []Mode{ModeWarm, ModeCold, ModeRestore} {
		if modes[m] > 0 {
			split = append(split, fmt.Sprintf("%d %s", modes[m], m))
		}
	}
	services := plural(len(inv.Services), "service", "services")
	if len(split) > 0 {
		services += " (" + strings.Join(split, ", ") + ")"
	}
	return strings.Join([]string{
		plural(len(inv.Hypervisors), "hypervisor", "hypervisors"),
		plural(len(inv.VMs), "VM", "VMs"),
		services,
		plural(len(inv.Standby), "standby VM", "standby VMs"),
		plural(len(inv.Spares), "spare", "spares"),
	}, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
