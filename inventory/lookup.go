package inventory

import (
	"fmt"

	"github.com/understudy/understudy/internal/yamlpos"
)

// Service returns the service named name, or nil.
func (inv *Inventory) Service(name string) *Service {
	for i := range inv.Services {
		if inv.Services[i].Name == name {
			return &inv.Services[i]
		}
	}
	return nil
}

// VM returns the VM named name, or nil.
func (inv *Inventory) VM(name string) *VM {
	for i := range inv.VMs {
		if inv.VMs[i].Name == name {
			return &inv.VMs[i]
		}
	}
	return nil
}

// Hypervisor returns the hypervisor named name, or nil.
func (inv *Inventory) Hypervisor(name string) *Hypervisor {
	for i := range inv.Hypervisors {
		if inv.Hypervisors[i].Name == name {
			return &inv.Hypervisors[i]
		}
	}
	return nil
}

// StandbyVM returns the standby VM named name, or nil.
func (inv *Inventory) StandbyVM(name string) *Standby {
	for i := range inv.Standby {
		if inv.Standby[i].Name == name {
			return &inv.Standby[i]
		}
	}
	return nil
}

// Spare returns the spare VM named name, or nil.
func (inv *Inventory) Spare(name string) *Spare {
	for i := range inv.Spares {
		if inv.Spares[i].Name == name {
			return &inv.Spares[i]
		}
	}
	return nil
}

// ServicesOn returns the services whose primary is the VM named vm, in file order.
func (inv *Inventory) ServicesOn(vm string) []*Service {
	var out []*Service
	for i := range inv.Services {
		if inv.Services[i].VM == vm {
			out = append(out, &inv.Services[i])
		}
	}
	return out
}

// File returns the absolute path of the file the inventory was read from.
func (inv *Inventory) File() string { return inv.file }

// ErrorAt returns an error positioned at a field of the inventory, for
// problems found after loading (a custom playbook that does not parse, a
// reload refused): ErrorAt("services[1].playbook", "step 3: unknown kind %q", k).
// A path that was not written in the file takes the position of its nearest
// written parent.
func (inv *Inventory) ErrorAt(path, format string, args ...any) *FieldError {
	p := yamlpos.Lookup(inv.pos, path)
	return &FieldError{File: inv.name, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...)}
}
