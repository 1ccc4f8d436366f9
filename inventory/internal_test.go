package inventory

import "testing"

func TestParseBandwidth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // bytes per second
		ok   bool
	}{
		{"100Mbit", 12_500_000, true},
		{"800kbit", 100_000, true},
		{"1Gbit", 125_000_000, true},
		{"1kbit", 125, true},
		{"0Mbit", 0, true}, // parses; validation refuses it
		{"100", 0, false},
		{"100mbit", 0, false},
		{"1.5Gbit", 0, false},
		{"-1Mbit", 0, false},
		{"99999999999999999999Gbit", 0, false},
	} {
		got, err := parseBandwidth(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseBandwidth(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNoPort(t *testing.T) {
	for v, want := range map[string]bool{
		"ns.example.com": true, "10.0.0.53": true, "[fd00::53]": true,
		"ns.example.com:53": false, "10.0.0.53:5353": false, "[fd00::53]:53": false, "fd00::53": false,
	} {
		if got := noPort(v); got != want {
			t.Errorf("noPort(%q) = %v, want %v", v, got, want)
		}
	}
}
