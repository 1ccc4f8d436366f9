package cluster

import (
	"net"
	"os"
	"strings"
	"testing"
)

// TestAdvertise: the override wins; a listener on a specific address is
// advertised as it is; one on the unspecified address gets the host name.
func TestAdvertise(t *testing.T) {
	ln := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9180}
	if got := Advertise("mon-a:9180", ln); got != "mon-a:9180" {
		t.Errorf("with an override: %q", got)
	}
	if got := Advertise("", ln); got != "127.0.0.1:9180" {
		t.Errorf("a specific address: %q", got)
	}
	host, _ := os.Hostname()
	if got := Advertise("", &net.TCPAddr{IP: net.IPv4zero, Port: 9180}); !strings.HasSuffix(got, ":9180") || (host != "" && !strings.HasPrefix(got, host)) {
		t.Errorf("the unspecified address: %q, want the host name %q and the port", got, host)
	}
}
