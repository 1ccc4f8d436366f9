package standby

import (
	"fmt"
	"slices"

	"github.com/understudy/understudy/inventory"
)

// CheckConfig reports the first instance config key a monitor may not set,
// wrapping ErrInvalid. The agent applies it to every spec it prepares, so
// that a client certificate of the agent's CA cannot make a container
// privileged; the keys are the inventory's allow-list
// (inventory.ConfigKeyAllowed), which validation applies to
// container.config as well.
func CheckConfig(cfg map[string]string) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !inventory.ConfigKeyAllowed(k, cfg[k]) {
			return fmt.Errorf("%w: config key %q=%q is not allowed (allowed: %s)", ErrInvalid, k, cfg[k], inventory.AllowedConfigKeys())
		}
	}
	return nil
}
