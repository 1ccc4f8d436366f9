package standby

import (
	"errors"
	"strings"
	"testing"
)

// TestPrepareRejectsDangerousConfigKeys: instance config keys a monitor
// sends follow an allow-list; keys that widen what the container may do on
// the standby host are refused before anything is created.
func TestPrepareRejectsDangerousConfigKeys(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, kv := range [][2]string{
		{"security.privileged", "true"},
		{"security.nesting", "true"},
		{"raw.lxc", "lxc.apparmor.profile=unconfined"},
		{"raw.idmap", "both 0 0"},
		{"raw.apparmor", "capability,"},
		{"linux.kernel_modules", "overlay"},
		{"security.syscalls.intercept.mount", "true"},
		{"volatile.base_image", "x"},
		{"environment.", "x"},
	} {
		spec := env.spec("bad", ModeCold)
		spec.Config = map[string]string{"environment.OK": "1", kv[0]: kv[1]}
		_, err := env.agent.Prepare(t.Context(), spec)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"`+kv[0]+`"`) {
			t.Errorf("config %s=%s: err = %v, want ErrInvalid naming the key", kv[0], kv[1], err)
		}
		if exists, _, _ := env.rt.status("bad"); exists {
			t.Fatalf("config %s=%s: a container was created", kv[0], kv[1])
		}
	}
	spec := env.spec("good", ModeCold)
	spec.Config = map[string]string{"environment.TZ": "UTC", "limits.processes": "500", "user.owner": "shop",
		"boot.autostart": "false", "security.nesting": "false", "security.privileged": "false"}
	if _, err := env.agent.Prepare(t.Context(), spec); err != nil {
		t.Errorf("allowed keys refused: %v", err)
	}
}
