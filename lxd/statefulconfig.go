package lxd

import "context"

// StatefulConfig is the instance config the daemon needs before it
// checkpoints a container: Incus refuses stateful snapshots and stops
// without migration.stateful=true, while LXD 5.0 has no such key for
// containers ("Unknown configuration key: migration.stateful") and needs
// nothing.
func (c *Client) StatefulConfig(ctx context.Context) (map[string]string, error) {
	info, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Server == "incus" {
		return map[string]string{"migration.stateful": "true"}, nil
	}
	return nil, nil
}
