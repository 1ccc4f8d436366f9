package inventory

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1073741824", 1 << 30, true},
		{"512MiB", 512 << 20, true},
		{"4GiB", 4 << 30, true},
		{"4Gi", 4 << 30, true},
		{"1G", 1e9, true},
		{"1GB", 1e9, true},
		{"2TiB", 2 << 40, true},
		{"10KB", 10000, true},
		{"100B", 100, true},
		{"", 0, false},
		{"GiB", 0, false},
		{"1.5GiB", 0, false},
		{"-1GiB", 0, false},
		{"4 gigs", 0, false},
		{"4gib", 0, false},
		{"9999999999TiB", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

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

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{
		4 << 30:    "4GiB",
		1536 << 20: "1536MiB",
		1e9:        "1GB",
		500e6:      "500MB",
		1001:       "1001 bytes",
		0:          "0 bytes",
	} {
		if got := formatSize(in); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", in, got, want)
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
