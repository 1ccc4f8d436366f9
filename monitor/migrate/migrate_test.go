package migrate

import (
	"net/netip"
	"testing"
)

func TestSparePoolPick(t *testing.T) {
	a := netip.MustParseAddr
	pool := SparePool{First: a("10.0.2.100"), Last: a("10.0.2.102"), Gateway: a("10.0.2.1"), PrefixLen: 24}
	tests := []struct {
		name string
		used []string
		want string // "" wants an error
	}{
		{"empty", nil, "10.0.2.100"},
		{"first taken", []string{"10.0.2.100"}, "10.0.2.101"},
		{"gap", []string{"10.0.2.100", "10.0.2.102"}, "10.0.2.101"},
		{"full", []string{"10.0.2.100", "10.0.2.101", "10.0.2.102"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := map[netip.Addr]bool{}
			for _, u := range tt.used {
				used[a(u)] = true
			}
			got, err := pool.pick(used)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("pick = %v, want an error", got)
				}
				return
			}
			if err != nil || got != a(tt.want) {
				t.Errorf("pick = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
	if _, err := (SparePool{}).pick(nil); err == nil {
		t.Error("an empty pool gave an address")
	}
}
