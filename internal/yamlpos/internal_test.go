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
