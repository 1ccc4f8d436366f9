package lxd

import (
	"context"
	"fmt"
)

// quirks are the workarounds a Client applies for the daemon behind it, one
// field per workaround. The zero value is Incus's: every call direct. They
// are chosen once, at Connect, from the server's name (quirksFor).
//
// Only what differs between the servers has a field. The traps of the Incus
// client itself (WithContext on a shared client, WaitContext leaving the
// server-side operation running, GetServer's unguarded cache) are handled
// the same way for every server, and the calls that misbehave against LXD
// 5.0.2 but that this package never makes (CreateImage with aliases,
// CreateInstanceFile, GetOperationUUIDs, trust tokens) need none: README.md
// lists them all.
type quirks struct {
	// readBackCreate: LXD 5.0.2 may silently drop fields of the create
	// request the Incus client sends (it reads X-LXD-* headers and an older
	// API), so Ensure reads a created instance back and applies what did not
	// stick. Incus applies the request or refuses it: no read-back.
	readBackCreate bool
}

// quirksFor returns the workarounds for a server. Incus gets none; LXD, and
// any server that is not Incus, gets every one (the safe side: each only
// adds requests).
func quirksFor(info ServerInfo) quirks {
	if info.Server == "incus" {
		return quirks{}
	}
	return quirks{readBackCreate: true}
}

// detect asks the daemon who it is and chooses the quirks for it.
func (c *Client) detect(ctx context.Context) error {
	info, err := c.ServerInfo(ctx)
	if err != nil {
		return fmt.Errorf("detect the server: %w", err)
	}
	c.info = info
	c.quirks = quirksFor(info)
	c.log.Debug("server detected", "server", info.Server, "version", info.Version, "quirks", fmt.Sprintf("%+v", c.quirks))
	return nil
}

// Server returns what Connect learnt of the daemon: "incus" or "lxd", and its
// version (empty for a Client made without Connect).
func (c *Client) Server() ServerInfo { return c.info }
