package ha

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/understudy/understudy/internal/etcdembed"
	"github.com/understudy/understudy/internal/pki"
)

// PeersConfig configures one member of an embedded etcd cluster that runs
// across the monitors themselves (`understudy monitor --peers`).
//
// Every monitor lists the same Peers. Three voting members are the minimum
// that tolerates the loss of one: etcd needs a majority (2 of 3) to elect
// and to commit. Two members tolerate no loss at all, which is worse than
// one; five tolerate two.
type PeersConfig struct {
	Name string // this member; must be a key of Peers
	Dir  string // data directory (created), e.g. <monitor.state-dir>/etcd-peer
	// Peers maps every member's name, this one's included, to the URL the
	// members reach it on (http://host:2380). The cluster is static: the
	// same map on every monitor.
	Peers map[string]string
	// Retention is the history auto-compaction keeps (default
	// etcdembed.DefaultRetention).
	Retention time.Duration
	// Token tells this cluster from others on the same network (default
	// "understudy").
	Token    string
	LogLevel string // etcd's zap level (default error)
	// StartTimeout bounds the wait for quorum (default 60s): StartPeers
	// returns once a majority of the members run.
	StartTimeout time.Duration
	// PeerTLS, when set, secures the members' traffic with mutual TLS: every
	// peer URL must be https, each member presents Cert (which needs both
	// server and client usage, with its peer host among the names) and
	// accepts only members with a certificate from CA whose common name is
	// allowed.
	PeerTLS *PeerTLS
}

// PeerTLS are the files of the members' mutual TLS. AllowedCNs are the
// common names a member's certificate may have; by default the common name
// of Cert, so that other certificates of the same CA (the monitor API's
// clients: proxies, operators) cannot join the cluster.
type PeerTLS struct {
	CA, Cert, Key string
	AllowedCNs    []string
}

// Peer is this monitor's member of the embedded cluster.
type Peer struct {
	etcd *embed.Etcd
	// Client talks to this member in-process. When the member loses the
	// majority, its requests fail, so the leader's session lapses within
	// its TTL.
	Client *clientv3.Client
	// ClientURL is this member's unix socket (unix:///.../etcd.sock, mode
	// 0600) for other clients of the same user: etcdctl, tests. The
	// monitor itself uses Client.
	ClientURL string
}

// StartPeers starts this monitor's member of the static cluster and waits
// until the cluster has quorum (a majority of Peers running). On a restart
// the member rejoins from its data directory. Like every embedded server it
// serves clients only on a unix socket (Peer.ClientURL, mode 0600), compacts
// its history and defragments at start (package internal/etcdembed).
func StartPeers(ctx context.Context, cfg PeersConfig) (*Peer, error) {
	ec, err := peerConfig(cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	e, err := etcdembed.Start(ctx, ec, timeout)
	switch {
	case errors.Is(err, etcdembed.ErrNotReady):
		return nil, fmt.Errorf("start etcd member %q: no quorum after %s (are a majority of %d peers running?): %w", cfg.Name, timeout, len(cfg.Peers), err)
	case err != nil:
		return nil, fmt.Errorf("start etcd member %q in %s: %w", cfg.Name, cfg.Dir, err)
	}
	return &Peer{etcd: e, Client: v3client.New(e.Server), ClientURL: ec.ListenClientUrls[0].String()}, nil
}

// checkPeerSchemes requires https peer URLs with PeerTLS and http ones
// without it, so that a member is never left talking plain HTTP by mistake.
func checkPeerSchemes(cfg PeersConfig) error {
	want := "http"
	if cfg.PeerTLS != nil {
		want = "https"
	}
	for n, raw := range cfg.Peers {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("start etcd member %q: peer %q: %w", cfg.Name, n, err)
		}
		if u.Scheme != want {
			return fmt.Errorf("start etcd member %q: peer %q at %s: want an %s:// URL (peer TLS %s)", cfg.Name, n, raw, want, map[bool]string{true: "on", false: "off"}[cfg.PeerTLS != nil])
		}
	}
	return nil
}

// peerConfig checks cfg and builds the member's embed.Config.
func peerConfig(cfg PeersConfig) (*embed.Config, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("start etcd member %q: no data directory", cfg.Name)
	}
	if len(cfg.Peers) < 3 {
		return nil, fmt.Errorf("start etcd member %q with %d peers: %w", cfg.Name, len(cfg.Peers), ErrTooFewPeers)
	}
	self, ok := cfg.Peers[cfg.Name]
	if !ok {
		return nil, fmt.Errorf("start etcd member %q: not among the peers", cfg.Name)
	}
	peer, err := url.Parse(self)
	if err != nil {
		return nil, fmt.Errorf("start etcd member %q: peer URL: %w", cfg.Name, err)
	}
	if err := checkPeerSchemes(cfg); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cfg.Peers))
	for n := range cfg.Peers {
		names = append(names, n)
	}
	sort.Strings(names)
	members := make([]string, 0, len(names))
	for _, n := range names {
		if _, err := url.Parse(cfg.Peers[n]); err != nil {
			return nil, fmt.Errorf("start etcd member %q: peer %q: %w", cfg.Name, n, err)
		}
		members = append(members, n+"="+cfg.Peers[n])
	}
	ec, err := etcdembed.NewConfig(etcdembed.Settings{Name: cfg.Name, Dir: cfg.Dir, LogLevel: cfg.LogLevel, Retention: cfg.Retention})
	if err != nil {
		return nil, fmt.Errorf("start etcd member %q: %w", cfg.Name, err)
	}
	if t := cfg.PeerTLS; t != nil {
		cns := t.AllowedCNs
		if len(cns) == 0 {
			cn, err := pki.CommonName(t.Cert)
			if err != nil {
				return nil, fmt.Errorf("start etcd member %q: peer TLS: %w", cfg.Name, err)
			}
			cns = []string{cn}
		}
		ec.PeerTLSInfo = transport.TLSInfo{CertFile: t.Cert, KeyFile: t.Key, TrustedCAFile: t.CA, ClientCertAuth: true, AllowedCNs: cns}
	}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	ec.InitialCluster = strings.Join(members, ",")
	ec.InitialClusterToken = cfg.Token
	if ec.InitialClusterToken == "" {
		ec.InitialClusterToken = "understudy"
	}
	ec.ClusterState = embed.ClusterStateFlagNew
	return ec, nil
}

// Close stops the in-process client and the member.
func (p *Peer) Close() error {
	err := p.Client.Close()
	p.etcd.Close()
	return err
}

// ShedRaftLeadership hands etcd's raft leadership to another voting member
// when this member holds it, and reports whether it moved. Call it when
// this monitor starts leading the monitors: if its process then dies, the
// cluster keeps its raft leader, and the next monitor takes over after one
// lease TTL. Had the raft leader died with it, etcd would first elect a new
// raft leader and then renew every lease to its full TTL, which made the
// takeover about 2.3 s longer here (5.5 s instead of 3.2 s with TTL 3 s).
// A member that does not take over within ctx is skipped for the next one.
func (p *Peer) ShedRaftLeadership(ctx context.Context) (bool, error) {
	s := p.etcd.Server
	self := s.MemberID()
	if s.Leader() != self {
		return false, nil
	}
	var errs []error
	for _, m := range s.Cluster().Members() {
		if m.ID == self || m.IsLearner {
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.MoveLeader(tctx, uint64(self), uint64(m.ID))
		cancel()
		if err == nil {
			return true, nil
		}
		errs = append(errs, fmt.Errorf("to member %s: %w", m.Name, err))
		if ctx.Err() != nil {
			break
		}
	}
	return false, fmt.Errorf("shed raft leadership: %w", errors.Join(errs...))
}

// RaftLeader reports whether this member is etcd's raft leader now.
func (p *Peer) RaftLeader() bool { return p.etcd.Server.Leader() == p.etcd.Server.MemberID() }
