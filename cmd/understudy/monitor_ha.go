package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/understudy/understudy/controller"
	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/inventory"
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
	fs.StringVar(&f.peers, "peers", "", "start an embedded etcd member of a static cluster across the monitors: `NAME=URL,...` (every member, this one included; the same list on each; https with monitor.api-tls, whose certificate secures the members' traffic)")
	fs.DurationVar(&f.ttl, "lease-ttl", ha.DefaultTTL, "election lease: a dead leader is replaced after about this long")
	return f
}

// options turns the flags into controller options.
func (f *monitorHAFlags) options(inv *inventory.Inventory) (controller.Options, error) {
	opts := controller.Options{Name: f.name, Listen: f.listen, Advertise: f.advertise, LeaseTTL: f.ttl}
	if f.name == "" {
		return opts, errors.New("--name: empty, and the host name is unknown")
	}
	if f.peers == "" {
		return opts, nil
	}
	if inv.Monitor.Etcd != nil {
		return opts, errors.New("--peers: the inventory names an external etcd (monitor.etcd); use one or the other")
	}
	peers, err := parsePeers(f.peers)
	if err != nil {
		return opts, err
	}
	if _, ok := peers[f.name]; !ok {
		return opts, fmt.Errorf("--peers: this monitor's --name %q is not among %s", f.name, strings.Join(sortedKeys(peers), ", "))
	}
	if len(peers) < 3 {
		return opts, fmt.Errorf("--peers: %d member(s): %w", len(peers), ha.ErrTooFewPeers)
	}
	opts.Peers = &ha.PeersConfig{Name: f.name, Peers: peers, Dir: filepath.Join(inv.Monitor.StateDir, "etcd-peer-"+f.name)}
	// The members' traffic is the monitors' state: with monitor.api-tls
	// it is mutual TLS with the monitors' own certificate (https peers).
	if t := inv.Monitor.APITLS; !t.IsZero() {
		opts.Peers.PeerTLS = &ha.PeerTLS{CA: t.CA, Cert: t.Cert, Key: t.Key}
	}
	want := map[bool]string{true: "https", false: "http"}[opts.Peers.PeerTLS != nil]
	for _, name := range sortedKeys(peers) {
		if u, _ := url.Parse(peers[name]); u.Scheme != want {
			return opts, fmt.Errorf("--peers: member %q: %s:// URLs %s monitor.api-tls, got %s", name, want, map[bool]string{true: "go with", false: "go without"}[want == "https"], peers[name])
		}
	}
	return opts, nil
}

// parsePeers parses NAME=URL,NAME=URL,...
func parsePeers(s string) (map[string]string, error) {
	peers := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		name, raw, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || name == "" || raw == "" {
			return nil, fmt.Errorf("--peers: %q is not NAME=URL", kv)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--peers: member %q: %q is not an http(s)://HOST:PORT URL", name, raw)
		}
		if _, dup := peers[name]; dup {
			return nil, fmt.Errorf("--peers: member %q is listed twice", name)
		}
		peers[name] = raw
	}
	return peers, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
