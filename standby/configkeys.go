package standby

import (
	"fmt"
	"slices"
	"strings"
)

// allowedConfigPrefixes are the instance config namespaces a monitor may
// set on a service's container: its environment, resource limits, user
// metadata, cloud-init data, boot and snapshot policy. Nothing in them
// widens what the container may do on the standby host.
var allowedConfigPrefixes = []string{"environment.", "limits.", "user.", "cloud-init.", "boot.", "snapshots."}

// allowedConfigValues are keys outside those namespaces that are accepted
// with their safe, default value only (examples/realistic.yaml spells out
// security.nesting: "false").
var allowedConfigValues = map[string]string{
	"security.nesting":    "false",
	"security.privileged": "false",
}

// CheckConfig reports the first instance config key a monitor may not set,
// wrapping ErrInvalid. The agent applies it to every spec it prepares:
// whoever holds a client certificate of the agent's CA must not be able to
// make a container privileged (security.privileged, security.nesting,
// raw.lxc, raw.idmap, linux.kernel_modules, ...). The keys are an
// allow-list, so a key Incus adds later is refused until it is judged.
func CheckConfig(cfg map[string]string) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !configKeyAllowed(k, cfg[k]) {
			return fmt.Errorf("%w: config key %q=%q is not allowed (allowed: %s*, or %s)",
				ErrInvalid, k, cfg[k], strings.Join(allowedConfigPrefixes, "*, "), allowedValuesText())
		}
	}
	return nil
}

func configKeyAllowed(key, value string) bool {
	if v, ok := allowedConfigValues[key]; ok {
		return value == v
	}
	for _, p := range allowedConfigPrefixes {
		if strings.HasPrefix(key, p) && len(key) > len(p) {
			return true
		}
	}
	return false
}

func allowedValuesText() string {
	parts := make([]string, 0, len(allowedConfigValues))
	for k, v := range allowedConfigValues {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
