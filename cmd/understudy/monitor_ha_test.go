package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

func TestMonitorPeersFlag(t *testing.T) {
	three := "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,c=http://10.0.0.3:2380"
	for _, tc := range []struct {
		name, peers, self string
		etcd, apiTLS      bool
		want              string // error substring; "" for success
	}{
		{name: "none", self: "a"},
		{name: "three", peers: strings.ReplaceAll(three, "http:", "https:"), self: "b", apiTLS: true},
		{name: "without api-tls", peers: three, self: "b", want: "--peers: the members' traffic is always mutual TLS"},
		{name: "not a member", peers: three, self: "d", want: `--name "d" is not among a, b, c`},
		{name: "two", peers: "a=http://h:1,b=http://h:2", self: "a", want: "3 voting members are the minimum"},
		{name: "no url", peers: "a=http://h:1,b,c=http://h:3", self: "a", want: `"b" is not NAME=URL`},
		{name: "bad scheme", peers: "a=tcp://h:1,b=http://h:2,c=http://h:3", self: "a", want: `member "a": "tcp://h:1" is not an http(s)://HOST:PORT URL`},
		{name: "twice", peers: "a=http://h:1,a=http://h:2,c=http://h:3", self: "a", want: `member "a" is listed twice`},
		{name: "and external etcd", peers: three, self: "a", etcd: true, want: "use one or the other"},
		{name: "https without api-tls", peers: strings.ReplaceAll(three, "http:", "https:"), self: "a", want: "set monitor.api-tls"},
		{name: "http with api-tls", peers: three, self: "a", apiTLS: true, want: `member "a": want an https:// URL`},
		{name: "https with api-tls", peers: strings.ReplaceAll(three, "http:", "https:"), self: "c", apiTLS: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := haFlags(fs)
			if err := fs.Parse([]string{"--name", tc.self, "--peers", tc.peers}); err != nil {
				t.Fatal(err)
			}
			inv := &inventory.Inventory{Monitor: inventory.Monitor{StateDir: "/var/lib/x"}}
			if tc.apiTLS {
				inv.Monitor.APITLS = inventory.TLSFiles{CA: "/p/ca.crt", Cert: "/p/m.crt", Key: "/p/m.key"}
			}
			if tc.etcd {
				inv.Monitor.Etcd = &inventory.Etcd{Endpoints: []string{"http://e:2379"}}
			}
			opts, err := f.options(inv)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.Name != tc.self {
				t.Errorf("name = %q", opts.Name)
			}
			if tc.apiTLS && (opts.Peers == nil || opts.Peers.PeerTLS == nil || opts.Peers.PeerTLS.Cert != "/p/m.crt") {
				t.Errorf("peer TLS = %+v, want monitor.api-tls's files", opts.Peers)
			}
			if tc.peers == "" && opts.Peers != nil || tc.peers != "" && (opts.Peers == nil || len(opts.Peers.Peers) != 3 || opts.Peers.Dir != "/var/lib/x/etcd-peer-"+tc.self) {
				t.Errorf("peers = %+v", opts.Peers)
			}
		})
	}
}

// TestMonitorRefusesInsecureListen: `understudy monitor --listen` beyond
// loopback without api-tls fails before it opens anything.
func TestMonitorRefusesInsecureListen(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"monitor", "-f", plainMinimal(t), "--listen", "0.0.0.0:9180"}, &bytes.Buffer{}, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "insecure-api") {
		t.Errorf("exit %d, stderr %q; want a refusal naming monitor.insecure-api", code, stderr.String())
	}
}
