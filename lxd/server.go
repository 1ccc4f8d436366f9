package lxd

import (
	"context"
	"errors"
	"fmt"

	"github.com/lxc/incus/v6/shared/api"
)

// ServerInfo describes the daemon behind a Client.
type ServerInfo struct {
	Name    string // the daemon's server name (environment.server_name)
	Server  string // "incus" or "lxd"
	Version string // e.g. 5.0.2
	Driver  string // instance drivers, e.g. lxc
}

// ServerInfo asks the daemon who it is.
func (c *Client) ServerInfo(ctx context.Context) (ServerInfo, error) {
	s, err := call(ctx, func() (*api.Server, error) {
		s, _, err := c.srv.GetServer()
		return s, err
	})
	if err != nil {
		return ServerInfo{}, fmt.Errorf("get server info of %q: %w", c.name, err)
	}
	e := s.Environment
	return ServerInfo{Name: e.ServerName, Server: e.Server, Version: e.ServerVersion, Driver: e.Driver}, nil
}

// ImageExists reports whether the daemon has a local image alias.
func (c *Client) ImageExists(ctx context.Context, alias string) (bool, error) {
	_, err := call(ctx, func() (*api.ImageAliasesEntry, error) {
		a, _, err := c.srv.GetImageAlias(alias)
		return a, err
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(notFound(err), ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("look up image alias %q on %q: %w", alias, c.name, err)
	}
}
