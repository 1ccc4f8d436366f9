package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
)

// monitorHAFlags are the monitor's flags for running several monitors.
type monitorHAFlags struct {
	name, listen, advertise, peers string
	ttl                            time.Duration
}

// haFlags defines the several-monitors flags on fs.
func haFlags(fs *flag.FlagSet) *monitorHAFlags {
	f := &monitorHAFlags{}
	host, _ := os.Hostname()
	fs.StringVar(&f.name, "name", host, "this monitor's `NAME` among its peers, unique")
	fs.StringVar(&f.listen, "listen", "", "API `ADDR`ess, overriding monitor.listen (several monitors on one host)")
	fs.StringVar(&f.advertise, "advertise", "", "API `ADDR`ess the other monitors forward to (default: the listen address)")
	fs.StringVar(&f.peers, "peers", "", "start an embedded etcd member of a static cluster across the monitors: `NAME=URL,...` (every member, this one included; the same list on each; https URLs: the members talk mutual TLS with monitor.api-tls, which --peers requires)")
	fs.DurationVar(&f.ttl, "lease-ttl", ha.DefaultTTL, "election lease: a dead leader is replaced after about this long")
	return f
}

// options turns the flags into controller options.
func (f *monitorHAFlags) options(inv *inventory.Inventory) (monitor.Options, error) {
	opts := monitor.Options{Name: f.name, Listen: f.listen, Advertise: f.advertise, LeaseTTL: f.ttl}
	if f.name == "" {
		return opts, errors.New("--name: empty, and the host name is unknown")
	}
	if f.peers == "" {
		return opts, nil
	}
	if inv.Monitor.Etcd != nil {
		return opts, errors.New("--peers: the inventory names an external etcd (monitor.etcd); use one or the other")
	}
	peers, err := ha.ParsePeers(f.peers)
	if err != nil {
		return opts, fmt.Errorf("--peers: %w", err)
	}
	if _, ok := peers[f.name]; !ok {
		return opts, fmt.Errorf("--peers: this monitor's --name %q is not among %s", f.name, strings.Join(ha.PeerNames(peers), ", "))
	}
	if len(peers) < 3 {
		return opts, fmt.Errorf("--peers: %d member(s): %w", len(peers), ha.ErrTooFewPeers)
	}
	// The members' traffic is the monitors' state: it is always mutual TLS
	// with the monitors' own certificate (monitor.api-tls), never plain, so
	// nobody on the network can join the cluster, read it or rewrite it.
	t := inv.Monitor.APITLS
	if t.IsZero() {
		return opts, errors.New("--peers: the members' traffic is always mutual TLS with the monitor's certificate: set monitor.api-tls (understudy certs makes one)")
	}
	opts.Peers = &ha.PeersConfig{Name: f.name, Peers: peers, Dir: filepath.Join(inv.Monitor.StateDir, "etcd-peer-"+f.name),
		PeerTLS: &ha.PeerTLS{CA: t.CA, Cert: t.Cert, Key: t.Key}}
	for _, name := range ha.PeerNames(peers) {
		if u, _ := url.Parse(peers[name]); u.Scheme != "https" {
			return opts, fmt.Errorf("--peers: member %q: want an https:// URL (the members talk mutual TLS), got %s", name, peers[name])
		}
	}
	return opts, nil
}
