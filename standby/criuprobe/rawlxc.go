package criuprobe

import (
	"os"
	"strings"
)

// apparmorDir exists when the running kernel has AppArmor enabled; it is
// also what LXD/Incus check.
const apparmorDir = "/sys/kernel/security/apparmor"

// KernelHasAppArmor reports whether the running kernel has AppArmor.
func KernelHasAppArmor() bool {
	_, err := os.Stat(apparmorDir)
	return err == nil
}

// RestoreRawLXC is the raw.lxc the agent gives a restore-mode container, so
// that liblxc 5.0 (Debian 12's LXD) can checkpoint and restore it with CRIU
// (standby/README.md "Restore mode on this kernel"):
//   - lxc.console.path = none: liblxc's restore never creates the console
//     pty, so a checkpoint that recorded a console cannot be restored
//     ("lxc.console.path configured on source host but not target");
//   - on a kernel without AppArmor, an empty lxc.apparmor.profile: LXD sets
//     "unconfined", which liblxc passes to criu as --lsm-profile
//     apparmor:unconfined, and criu refuses it ("apparmor LSM specified but
//     apparmor not supported by kernel"). With AppArmor the profile stays.
func RestoreRawLXC(apparmor bool) string {
	lines := []string{"lxc.console.path = none"}
	if !apparmor {
		lines = append(lines, "lxc.apparmor.profile =")
	}
	return strings.Join(lines, "\n") + "\n"
}

// RestoreConfig is the instance config the agent adds to a restore-mode
// container: RestoreRawLXC, and the runtime's StatefulConfig (Incus refuses
// stateful snapshots without migration.stateful: "Stateful snapshots require
// that the instance has migration.stateful be set to true"; LXD 5.0 refuses
// the key itself).
func RestoreConfig(apparmor bool, stateful map[string]string) map[string]string {
	cfg := map[string]string{"raw.lxc": RestoreRawLXC(apparmor)}
	for k, v := range stateful {
		cfg[k] = v
	}
	return cfg
}
