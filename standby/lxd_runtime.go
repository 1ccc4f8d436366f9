package standby

import (
	"context"

	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/standby/config"
)

// The lxd adapter is the production Runtime and Checkpointer.
var (
	_ Runtime      = (*lxd.Client)(nil)
	_ Checkpointer = (*lxd.Client)(nil)
)

// ConnectLXD opens the Incus/LXD connection described by c with the lxd
// adapter. The agent calls SetStateful on it with the CRIU probe's result.
func ConnectLXD(ctx context.Context, c config.Incus) (Runtime, error) {
	return lxd.Connect(ctx, lxd.Conn{
		Socket: c.Socket, URL: c.URL,
		ClientCert: c.ClientCert, ClientKey: c.ClientKey, ServerCert: c.ServerCert,
	})
}
