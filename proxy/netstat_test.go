package proxy

import "testing"

func TestNetstatField(t *testing.T) {
	const text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 17 19\nIpExt: InNoRoutes\nIpExt: 3\n"
	for _, c := range []struct {
		section, field string
		want           int64
		ok             bool
	}{
		{"TcpExt:", "ListenOverflows", 17, true},
		{"TcpExt:", "ListenDrops", 19, true},
		{"IpExt:", "InNoRoutes", 3, true},
		{"TcpExt:", "Missing", 0, false},
		{"Nope:", "ListenOverflows", 0, false},
	} {
		got, ok := netstatField(text, c.section, c.field)
		if got != c.want || ok != c.ok {
			t.Errorf("netstatField(%s %s) = %d, %v; want %d, %v", c.section, c.field, got, ok, c.want, c.ok)
		}
	}
}
