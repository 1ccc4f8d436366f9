package yamlpos

import "testing"

func TestUnknownKeySuggestion(t *testing.T) {
	fields := []Field{{Key: "tsig-key-file"}, {Key: "server"}, {Key: "zone"}}
	for key, want := range map[string]string{
		"tsig_key_file": `unknown key, did you mean "tsig-key-file"?`,
		"Zone":          `unknown key, did you mean "zone"?`,
		"servers":       `unknown key, did you mean "server"?`,
		"colour":        "unknown key; known keys: server, tsig-key-file, zone",
		"zo":            "unknown key; known keys: server, tsig-key-file, zone",
	} {
		if got, _ := unknownKey(key, fields); got != want {
			t.Errorf("unknownKey(%q) = %q, want %q", key, got, want)
		}
	}
}

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
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
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
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}
