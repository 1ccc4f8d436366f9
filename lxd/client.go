package lxd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// requestTimeout bounds every single REST request to the daemon. The Incus
// client offers no per-request context (its WithContext mutates the shared
// client), so this cap is what stops a wedged daemon from hanging a caller's
// goroutine forever.
const requestTimeout = 30 * time.Second

// defaultPollInterval is how often WaitIPv4 reads the instance state.
const defaultPollInterval = 20 * time.Millisecond

// Conn says how to reach one Incus or LXD daemon. Exactly one of Socket and
// URL is set. The certificate fields are PEM file paths, used with URL only.
type Conn struct {
	Name       string // label used in errors and logs; defaults to Socket or URL
	Socket     string // unix socket path, e.g. /var/lib/incus/unix.socket
	URL        string // https://host:port
	ClientCert string // client certificate the daemon trusts
	ClientKey  string // its private key
	ServerCert string // the daemon's certificate, pinned
}

// Client performs instance operations on one daemon. It is safe for
// concurrent use.
type Client struct {
	srv          server
	name         string
	stateful     atomic.Bool
	log          *slog.Logger
	pollInterval time.Duration
	info         ServerInfo // the daemon, as Connect found it
	quirks       quirks     // the workarounds for that daemon (quirks.go)
}

// server is the subset of incus.InstanceServer this package uses, plus a
// copy hook so that copies between two fakes need no real server.
type server interface {
	GetServer() (*api.Server, string, error)
	GetImageAlias(name string) (*api.ImageAliasesEntry, string, error)
	GetInstance(name string) (*api.Instance, string, error)
	GetInstances(instanceType api.InstanceType) ([]api.Instance, error)
	CreateInstance(req api.InstancesPost) (incus.Operation, error)
	UpdateInstance(name string, put api.InstancePut, etag string) (incus.Operation, error)
	DeleteInstance(name string) (incus.Operation, error)
	RenameInstance(name string, req api.InstancePost) (incus.Operation, error)
	GetInstanceState(name string) (*api.InstanceState, string, error)
	UpdateInstanceState(name string, put api.InstanceStatePut, etag string) (incus.Operation, error)
	ExecInstance(name string, req api.InstanceExecPost, args *incus.InstanceExecArgs) (incus.Operation, error)
	GetInstanceSnapshot(name, snap string) (*api.InstanceSnapshot, string, error)
	CreateInstanceSnapshot(name string, req api.InstanceSnapshotsPost) (incus.Operation, error)
	DeleteInstanceSnapshot(name, snap string) (incus.Operation, error)
	// GetInstanceFileSFTPConn opens the instance's SFTP endpoint (files.go).
	GetInstanceFileSFTPConn(name string) (net.Conn, error)
	Disconnect()
	// copyFrom copies inst from src onto this server (CopyInstance), or
	// through this process's rate-limited relay when lim caps (relay.go).
	copyFrom(src server, inst api.Instance, args *incus.InstanceCopyArgs, lim *Limiter) (incus.RemoteOperation, error)
}

// realServer adapts the Incus client to server.
type realServer struct {
	incus.InstanceServer
	// sending serialises the requests that create operations: the Incus
	// client sets up its event listener for each one without a lock (a
	// data race between concurrent operations). Waiting stays concurrent.
	sending *sync.Mutex
}

var _ server = realServer{}

// safeOp cancels by the ID it read when the operation was created. The
// Incus client's own Cancel reads the operation while its event listener
// rewrites it (a data race once WaitContext has started listening).
type safeOp struct {
	incus.Operation
	id  string
	del func(uuid string) error
}

// Cancel asks the daemon to cancel the operation.
func (o safeOp) Cancel() error { return o.del(o.id) }

// wrap sends one request that creates an operation, one at a time, and
// makes the operation a safeOp; it runs before anyone waits on the
// operation, so reading its ID cannot race with the listener.
func (s realServer) wrap(send func() (incus.Operation, error)) (incus.Operation, error) {
	s.sending.Lock()
	op, err := send()
	s.sending.Unlock()
	if err != nil || op == nil {
		return op, err
	}
	return safeOp{Operation: op, id: op.Get().ID, del: s.DeleteOperation}, nil
}

// CreateInstance returns an operation that cancels safely.
func (s realServer) CreateInstance(req api.InstancesPost) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.CreateInstance(req) })
}

// UpdateInstance returns an operation that cancels safely.
func (s realServer) UpdateInstance(name string, put api.InstancePut, etag string) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.UpdateInstance(name, put, etag) })
}

// DeleteInstance returns an operation that cancels safely.
func (s realServer) DeleteInstance(name string) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.DeleteInstance(name) })
}

// RenameInstance returns an operation that cancels safely.
func (s realServer) RenameInstance(name string, req api.InstancePost) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.RenameInstance(name, req) })
}

// UpdateInstanceState returns an operation that cancels safely.
func (s realServer) UpdateInstanceState(name string, put api.InstanceStatePut, etag string) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.UpdateInstanceState(name, put, etag) })
}

// ExecInstance returns an operation that cancels safely.
func (s realServer) ExecInstance(name string, req api.InstanceExecPost, args *incus.InstanceExecArgs) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.ExecInstance(name, req, args) })
}

// CreateInstanceSnapshot returns an operation that cancels safely.
func (s realServer) CreateInstanceSnapshot(name string, req api.InstanceSnapshotsPost) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.CreateInstanceSnapshot(name, req) })
}

// DeleteInstanceSnapshot returns an operation that cancels safely.
func (s realServer) DeleteInstanceSnapshot(name, snap string) (incus.Operation, error) {
	return s.wrap(func() (incus.Operation, error) { return s.InstanceServer.DeleteInstanceSnapshot(name, snap) })
}

// GetServer reads /1.0 itself instead of through the Incus client, whose
// GetServer writes a cache that other calls read without a lock: a data race
// once probes and operations share one client.
func (s realServer) GetServer() (*api.Server, string, error) {
	resp, etag, err := s.RawQuery("GET", "/1.0", nil, "")
	if err != nil {
		return nil, "", err
	}
	var srv api.Server
	if err := resp.MetadataAsStruct(&srv); err != nil {
		return nil, "", fmt.Errorf("decode server: %w", err)
	}
	return &srv, etag, nil
}

func (s realServer) copyFrom(src server, inst api.Instance, args *incus.InstanceCopyArgs, lim *Limiter) (incus.RemoteOperation, error) {
	rs, ok := src.(realServer)
	if !ok {
		return nil, fmt.Errorf("copy source is a %T, not an Incus client", src)
	}
	if lim != nil && lim.Rate() > 0 {
		return s.relayFrom(rs, inst, args, lim)
	}
	s.sending.Lock()
	defer s.sending.Unlock()
	return s.CopyInstance(rs.InstanceServer, inst, args)
}

// Connect connects to the daemon described by c, checks that it answers and
// asks it who it is (GetServer: Incus or LXD, and the version), which
// chooses the LXD 5.0 workarounds the Client applies (quirks.go).
func Connect(ctx context.Context, c Conn) (*Client, error) {
	name := c.Name
	if name == "" {
		name = c.Socket + c.URL
	}
	if (c.Socket == "") == (c.URL == "") {
		return nil, fmt.Errorf("connect to %q: exactly one of socket and url must be set", name)
	}
	args := &incus.ConnectionArgs{
		UserAgent:  "understudy",
		HTTPClient: &http.Client{Timeout: requestTimeout},
	}
	if c.URL != "" {
		var err error
		if args.TLSClientCert, err = readPEM("client certificate", c.ClientCert); err != nil {
			return nil, fmt.Errorf("connect to %q: %w", name, err)
		}
		if args.TLSClientKey, err = readPEM("client key", c.ClientKey); err != nil {
			return nil, fmt.Errorf("connect to %q: %w", name, err)
		}
		if args.TLSServerCert, err = readPEM("server certificate", c.ServerCert); err != nil {
			return nil, fmt.Errorf("connect to %q: %w", name, err)
		}
	}
	// The client keeps the context it is given for all later requests, so it
	// gets a background one; ctx bounds only this connection attempt.
	srv, err := call(ctx, func() (incus.InstanceServer, error) {
		if c.Socket != "" {
			return incus.ConnectIncusUnixWithContext(context.Background(), c.Socket, args)
		}
		return incus.ConnectIncusWithContext(context.Background(), c.URL, args)
	})
	if err != nil {
		return nil, fmt.Errorf("connect to %q: %w", name, err)
	}
	cl := newClient(realServer{InstanceServer: srv, sending: &sync.Mutex{}}, name)
	if err := cl.detect(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("connect to %q: %w", name, err)
	}
	return cl, nil
}

func newClient(srv server, name string) *Client {
	return &Client{
		srv:          srv,
		name:         name,
		log:          slog.Default().With("component", "lxd", "server", name),
		pollInterval: defaultPollInterval,
	}
}

// Name returns the label of the daemon used in errors and logs.
func (c *Client) Name() string { return c.name }

// Close releases the client's connections (event listeners).
func (c *Client) Close() { c.srv.Disconnect() }

// SetStateful enables or disables stateful snapshots, restores and live
// copies. Enable it only after a start-up probe proved CRIU works: LAB.md
// records that a failed live migration leaves an uncancellable operation
// that wedges LXD 5.0.
func (c *Client) SetStateful(ok bool) { c.stateful.Store(ok) }

// readPEM reads a PEM file; errors name the file, never its content.
func readPEM(what, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: no file given", what)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("read %s %s: empty file", what, path)
	}
	return string(b), nil
}

// call runs one blocking client request and returns early when ctx ends.
// The request itself cannot be interrupted (the client has no per-request
// context); its goroutine ends when the request does, at the latest after
// requestTimeout.
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
