package standby

import (
	"strings"
	"testing"

	"github.com/understudy/understudy/standby/criuprobe"
)

// TestRestoreModeContainerGetsCheckpointableRawLXC: a restore-mode
// container is created with the raw.lxc that liblxc 5.0 needs to checkpoint
// and restore it (no console; no AppArmor profile on a kernel without
// AppArmor) and migration.stateful (Incus), and the other modes keep the
// daemon's defaults.
func TestRestoreModeContainerGetsCheckpointableRawLXC(t *testing.T) {
	env := newCRIUEnv(t)
	env.prepare(t, env.spec("ckpt", ModeRestore))
	env.prepare(t, env.spec("warm", ModeWarm))
	env.rt.mu.Lock()
	restore := env.rt.instances["ckpt"].spec.Config["raw.lxc"]
	stateful := env.rt.instances["ckpt"].spec.Config["migration.stateful"]
	_, warmHas := env.rt.instances["warm"].spec.Config["raw.lxc"]
	_, warmStateful := env.rt.instances["warm"].spec.Config["migration.stateful"]
	env.rt.mu.Unlock()
	if stateful != "true" || warmStateful {
		t.Errorf("migration.stateful: restore mode %q, warm set: %v; want \"true\" (Incus refuses stateful snapshots without it) and unset", stateful, warmStateful)
	}
	if want := criuprobe.RestoreRawLXC(criuprobe.KernelHasAppArmor()); restore != want {
		t.Errorf("restore-mode raw.lxc = %q, want %q", restore, want)
	}
	if !strings.Contains(restore, "lxc.console.path = none\n") {
		t.Errorf("restore-mode raw.lxc %q has no lxc.console.path = none", restore)
	}
	if warmHas {
		t.Error("a warm container got a raw.lxc")
	}
}
