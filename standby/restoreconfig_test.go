package standby

import (
	"strings"
	"testing"

	"github.com/understudy/understudy/standby/criuprobe"
)

// TestRestoreModeContainerGetsCheckpointableRawLXC: a restore-mode
// container is created with the raw.lxc that liblxc 5.0 needs to checkpoint
// and restore it (no console; no AppArmor profile on a kernel without
// AppArmor), and the other modes keep LXD's defaults.
func TestRestoreModeContainerGetsCheckpointableRawLXC(t *testing.T) {
	env := newCRIUEnv(t)
	env.prepare(t, env.spec("ckpt", ModeRestore))
	env.prepare(t, env.spec("warm", ModeWarm))
	env.rt.mu.Lock()
	restore := env.rt.instances["ckpt"].spec.Config["raw.lxc"]
	_, warmHas := env.rt.instances["warm"].spec.Config["raw.lxc"]
	env.rt.mu.Unlock()
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
