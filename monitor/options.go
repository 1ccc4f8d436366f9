package monitor

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/monitor/statuspage"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// Agent is what the controller needs from a standby agent; *standby.Client
// satisfies it (see conns.Agent).
type Agent = conns.Agent

// Hypervisor is what the controller needs from a hypervisor's API;
// *lxd.Client satisfies it (see conns.Hypervisor).
type Hypervisor = conns.Hypervisor

// Options tune a Controller. The zero value runs the daemon as the inventory
// says; the hooks exist for tests and embedding.
type Options struct {
	// Logger defaults to slog.Default(); the controller adds component=controller.
	Logger *slog.Logger
	// Clock is the time every part of the daemon decides by: the executor's
	// deadlines and hold-downs, the probe engine, the move policy (whose
	// PrimaryHealthySince the executor judges), the preparer's backoff, the
	// suspect window, the confirmation TTL, the DNS rechecks and the term
	// retry (default clock.Wall). Logs and metrics of durations stay on
	// the wall clock.
	Clock clock.Clock
	// Registry receives the monitor's, recover's and the controller's metrics
	// and is served on /metrics; nil makes a new one.
	Registry *prometheus.Registry
	// Listen overrides monitor.listen (e.g. "127.0.0.1:0" in tests).
	Listen string
	// Serving, when set, is called with the HTTP address once it listens.
	Serving func(net.Addr)

	// Store replaces the store the inventory names (embedded or external etcd).
	Store store.Store
	// DNS replaces the DNS client built from the inventory's dns section.
	DNS executor.DNS
	// Agents opens the client of a standby agent; nil uses standby.NewClient
	// with monitor.agent-tls.
	Agents func(sb inventory.Standby, tls TLSFiles) (Agent, error)
	// Hypervisors opens a hypervisor's API; nil uses lxd.Connect.
	Hypervisors func(ctx context.Context, h inventory.Hypervisor) (Hypervisor, error)
	// Probers replaces the monitor's probes (tests); nil uses probe.Probers
	// with an ICMP pinger and the hypervisors above.
	Probers map[probe.Kind]probe.ProbeFunc
	// OnSave is called with every record the executor persisted, after the
	// controller's own bookkeeping; it runs on the incident's goroutine.
	OnSave func(recover.Record)
	// PrepareRetry is the first pause before preparing a service again after
	// a failure (default 2s, doubling up to 30s).
	PrepareRetry time.Duration
	// SyncTick is how often the content sync looks for due syncs
	// (default 1s; package contentsync).
	SyncTick time.Duration
	// Keepalive is the pause between keepalive lines of a placement watch
	// (default 15s).
	Keepalive time.Duration

	// Several monitors (package ha). Every monitor sharing one etcd
	// campaigns; the leader acts, the others probe, serve reads and forward
	// the rest to it.
	//
	// Name is this monitor's name among its peers, unique (default the host
	// name). Advertise is the API address peers forward to (default the
	// listener's). LeaseTTL is the election lease (default ha.DefaultTTL).
	Name      string
	Advertise string
	LeaseTTL  time.Duration
	// Etcd replaces the etcd client of the inventory (tests that share a
	// cluster); Peers starts an embedded member of a static peer cluster
	// across the monitors instead (understudy monitor --peers).
	Etcd  *clientv3.Client
	Peers *ha.PeersConfig

	// StandbyIncus overrides, by standby name, how to reach a standby VM's
	// Incus/LXD for copies to spares; by default standby[].incus of the
	// inventory. A standby with neither cannot migrate its services.
	StandbyIncus map[string]inventory.Incus
	// SparePools override, by spare name, the address pools of the spares'
	// copies; by default spares[].network of the inventory. A spare with
	// neither gives its copies no static address (see SparePool).
	SparePools map[string]SparePool
	// Migrator replaces the lxd copy between standby and spare (tests).
	Migrator executor.Migrator
	// MoveInterval is the pause between two looks at the automatic move
	// policies (max-on-standby, failback: auto); default 5s.
	MoveInterval time.Duration
	// HoldDown overrides, for every service, how long a primary must have
	// been healthy before an automatic failback (default
	// recover.DefaultHoldDown; the inventory has no key for it yet).
	HoldDown time.Duration

	// Capacity reads the standby VMs' load and CPU steal for the overload
	// trigger (migration.overload); nil asks each standby agent
	// (GET /v1/capacity).
	Capacity CapacitySource
	// SpareCapacity reads the spare VMs' load and CPU steal for spare ranking,
	// by spare name, for the spares with spares[].agent; nil asks that
	// agent (GET /v1/capacity) over monitor.agent-tls.
	SpareCapacity CapacitySource

	// Drills is the drill history the status page at / shows; nil shows
	// none (the command gives drillsource.History of monitor.state-dir).
	Drills statuspage.Drills
}

// TLSFiles are the monitor's client certificate for agents and the CA it
// trusts them with (monitor.agent-tls).
type TLSFiles = inventory.TLSFiles
