package criuprobe

import (
	"strings"
	"testing"
)

func TestRestoreRawLXCClearsTheAppArmorProfileOnlyWithoutAppArmor(t *testing.T) {
	for _, tc := range []struct {
		apparmor bool
		cleared  bool
	}{{apparmor: false, cleared: true}, {apparmor: true, cleared: false}} {
		got := RestoreRawLXC(tc.apparmor)
		if cleared := strings.Contains(got, "lxc.apparmor.profile =\n"); cleared != tc.cleared {
			t.Errorf("apparmor=%v: raw.lxc %q clears the profile = %v, want %v", tc.apparmor, got, cleared, tc.cleared)
		}
	}
}
