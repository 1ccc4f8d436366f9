package drill

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

type staticResolver netip.Addr

func (r staticResolver) Lookup(context.Context, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.Addr(r)}, nil
}

func loopbackServer(t *testing.T, h http.HandlerFunc) (netip.Addr, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, h)
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	return ap.Addr(), int(ap.Port())
}

// TestLoadBoundedByCount stops the clients after MaxRequests.
func TestLoadBoundedByCount(t *testing.T) {
	addr, port := loopbackServer(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	cfg := LoadConfig{Clients: 4, Paths: []string{PathDNS, PathProxy}, FQDN: "x.lab.test.", Port: port,
		ProxyAddr: fmt.Sprintf("%s:%d", addr, port), Pause: time.Millisecond, MaxRequests: 57, MaxDuration: time.Minute}
	l, err := StartLoad(context.Background(), cfg, staticResolver(addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the load did not stop by itself after MaxRequests")
	}
	s := l.Stop()
	if len(s) != 57 {
		t.Errorf("%d samples, want exactly MaxRequests = 57", len(s))
	}
	paths := map[string]int{}
	for _, x := range s {
		if !x.OK || x.Backend != "ok" {
			t.Fatalf("sample %+v, want a success answering ok", x)
		}
		paths[x.Path]++
	}
	if paths[PathDNS] == 0 || paths[PathProxy] == 0 {
		t.Errorf("samples per path %v: want both", paths)
	}
}

// TestLoadBoundedByTime stops the clients after MaxDuration, also while
// requests hang; cut-off requests are not counted as failures.
func TestLoadBoundedByTime(t *testing.T) {
	addr, port := loopbackServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hangs until the client gives up
	})
	cfg := LoadConfig{Clients: 3, Paths: []string{PathDNS}, FQDN: "x.lab.test.", Port: port,
		DNSTimeout: time.Hour, MaxRequests: 1000, MaxDuration: 200 * time.Millisecond}
	l, err := StartLoad(context.Background(), cfg, staticResolver(addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the load did not stop by itself after MaxDuration")
	}
	if s := l.Stop(); len(s) != 0 {
		t.Errorf("%d samples recorded for requests cut off by the bound: %+v", len(s), s[0])
	}
}

// TestLoadRecordsFailures counts refused connections and bad statuses.
func TestLoadRecordsFailures(t *testing.T) {
	addr, port := loopbackServer(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	})
	seen := 0
	cfg := LoadConfig{Clients: 1, Paths: []string{PathDNS}, FQDN: "x.lab.test.", Port: port, MaxRequests: 5, Pause: time.Millisecond}
	l, err := StartLoad(context.Background(), cfg, staticResolver(addr), func(Sample) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	<-l.Done()
	s := l.Stop()
	if len(s) != 5 || seen != 5 {
		t.Fatalf("%d samples, %d seen, want 5", len(s), seen)
	}
	for _, x := range s {
		if x.OK || x.Err != "503 Service Unavailable" || x.Addr != addr.String() {
			t.Errorf("sample %+v, want a 503 failure from %s", x, addr)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for name, cfg := range map[string]LoadConfig{
		"no clients":       {Paths: []string{PathDNS}},
		"proxy, no addr":   {Clients: 1, Paths: []string{PathProxy}},
		"unknown path":     {Clients: 1, Paths: []string{"carrier-pigeon"}},
		"dns, no resolver": {Clients: 1, Paths: []string{PathDNS}},
	} {
		t.Run(name, func(t *testing.T) {
			var res Resolver
			if name != "dns, no resolver" {
				res = staticResolver(netip.MustParseAddr("127.0.0.1"))
			}
			if _, err := StartLoad(context.Background(), cfg, res, nil); err == nil {
				t.Error("StartLoad accepted a bad config")
			}
		})
	}
}
