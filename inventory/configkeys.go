package inventory

import (
	"slices"
	"strings"
)

// allowedConfigPrefixes are the instance config namespaces a service's
// container may set: its environment, resource limits, user metadata,
// cloud-init data, boot and snapshot policy. Nothing in them widens what the
// container may do on the standby host.
var allowedConfigPrefixes = []string{"environment.", "limits.", "user.", "cloud-init.", "boot.", "snapshots."}

// allowedConfigValues are keys outside those namespaces that are accepted
// with their safe, default value only.
var allowedConfigValues = map[string]string{
	"security.nesting":    "false",
	"security.privileged": "false",
}

// ConfigKeyAllowed reports whether a container may carry the instance config
// key with value. It is an allow-list, so that no one who may prepare a
// service can make its container privileged (security.privileged,
// security.nesting, raw.lxc, raw.idmap, linux.kernel_modules, ...), and a
// key Incus adds later is refused until it is judged. Validation applies it
// to container.config, and the standby agent to every spec it prepares.
func ConfigKeyAllowed(key, value string) bool {
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

// AllowedConfigKeys describes the allow-list for error messages.
func AllowedConfigKeys() string {
	parts := make([]string, 0, len(allowedConfigPrefixes)+len(allowedConfigValues))
	for _, p := range allowedConfigPrefixes {
		parts = append(parts, p+"*")
	}
	vals := make([]string, 0, len(allowedConfigValues))
	for k, v := range allowedConfigValues {
		vals = append(vals, k+"="+v)
	}
	slices.Sort(vals)
	return strings.Join(append(parts, vals...), ", ")
}
