package dnsupdate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/understudy/understudy/internal/labtest"
)

// secret32 is a syntactically valid base64 secret used only in these tests.
const secret32 = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="

func TestParseKey(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantName string
		wantAlg  string
		wantErr  string // substring; "" means success
	}{
		{"tsig-keygen output", "key \"understudy-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + secret32 + "\";\n};\n", "understudy-key.", "hmac-sha256", ""},
		{"sha384", `key "k" { algorithm hmac-sha384; secret "` + secret32 + `"; };`, "k.", "hmac-sha384", ""},
		{"sha512, upper case, dotted", `key "K.Example." { algorithm HMAC-SHA512.; secret "` + secret32 + `"; };`, "k.example.", "hmac-sha512", ""},
		{"default algorithm", `key k { secret "` + secret32 + `"; };`, "k.", "hmac-sha256", ""},
		{"comments", "# made by tsig-keygen\n// note\n/* block\n comment */ key \"k\" { secret \"" + secret32 + "\"; };", "k.", "hmac-sha256", ""},
		{"unquoted secret", "key k { secret " + secret32 + "; };", "k.", "hmac-sha256", ""},
		{"empty file", "", "", "", "no key statement"},
		{"not a key", "options { directory \"/tmp\"; };", "", "", "line 1: expected a key statement"},
		{"no secret", "key k {\n algorithm hmac-sha256;\n};", "", "", "line 3: the key has no secret"},
		{"bad base64", `key k { secret "not base64!"; };`, "", "", "not valid base64"},
		{"empty secret", `key k { secret ""; };`, "", "", "empty secret"},
		{"md5", `key k { algorithm hmac-md5; secret "` + secret32 + `"; };`, "", "", `"hmac-md5" is not supported`},
		{"two keys", `key a { secret "` + secret32 + `"; }; key b { secret "` + secret32 + `"; };`, "", "", "more than one statement"},
		{"missing semicolon", "key k { secret \"" + secret32 + "\" };", "", "", "expected \";\" after the secret"},
		{"unterminated string", `key k { secret "abc`, "", "", "unterminated quoted string"},
		{"unterminated comment", `/* key`, "", "", "unterminated comment"},
		{"unknown clause", "key k {\n secret \"" + secret32 + "\";\n foo bar;\n};", "", "", "line 3: unexpected token"},
		{"secret twice", `key k { secret "` + secret32 + `"; secret "` + secret32 + `"; };`, "", "", "secret given twice"},
		{"truncated", `key k { secret "` + secret32 + `";`, "", "", "unexpected end of file"},
		{"bad name", `key "a..b" { secret "` + secret32 + `"; };`, "", "", "not a domain name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey([]byte(tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret32) {
					t.Errorf("error reveals the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if k.Name != tt.wantName || k.Algorithm != tt.wantAlg {
				t.Errorf("got %q %q, want %q %q", k.Name, k.Algorithm, tt.wantName, tt.wantAlg)
			}
		})
	}
}

// TestLoadKeyFileFromTsigKeygen reads files written by BIND's own tool.
func TestLoadKeyFileFromTsigKeygen(t *testing.T) {
	if _, err := exec.LookPath("tsig-keygen"); err != nil {
		labtest.Skip(t, "tsig-keygen is not installed (Debian package bind9-utils or bind9; make lab-up installs it)")
	}
	for _, alg := range []string{"hmac-sha256", "hmac-sha384", "hmac-sha512"} {
		out, err := exec.Command("tsig-keygen", "-a", alg, "t-"+alg).Output()
		if err != nil {
			t.Fatalf("tsig-keygen -a %s: %v", alg, err)
		}
		path := filepath.Join(t.TempDir(), "key.conf")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := LoadKeyFile(path)
		if err != nil {
			t.Fatalf("LoadKeyFile(%s): %v", alg, err)
		}
		if k.Name != "t-"+alg+"." || k.Algorithm != alg || len(k.secret.b) == 0 {
			t.Errorf("got %v with %d secret bytes", k, len(k.secret.b))
		}
	}
}

func TestLoadKeyFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadKeyFile(filepath.Join(dir, "missing.key"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.key") {
		t.Errorf("missing file: err = %v", err)
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("key k { secret \""+secret32+"\" }"), 0o600)
	_, err = LoadKeyFile(bad)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "bad.key") || strings.Contains(err.Error(), secret32) {
		t.Errorf("bad file: err = %v", err)
	}
	big := filepath.Join(dir, "big.key")
	os.WriteFile(big, bytes.Repeat([]byte("#"), maxKeyFileSize+1), 0o600)
	if _, err = LoadKeyFile(big); !errors.Is(err, ErrInvalid) {
		t.Errorf("big file: err = %v", err)
	}
}

// TestKeyNeverPrintsSecret prints a key every way a caller might.
func TestKeyNeverPrintsSecret(t *testing.T) {
	k, err := ParseKey([]byte(`key "k" { secret "` + secret32 + `"; };`))
	if err != nil {
		t.Fatal(err)
	}
	raw := string(k.secret.b)
	type holder struct {
		K   *Key
		V   Key
		key Key
		ptr *Key
	}
	h := holder{K: k, V: *k, key: *k, ptr: k}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h), fmt.Sprintf(verb, []*Key{k}))
	}
	out = append(out, k.String(), k.GoString(), fmt.Sprint(Config{Key: k}), fmt.Sprintf("%+v", Config{Key: k}))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "key", k, "cfg", Config{Key: k})
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "key", *k)
	out = append(out, logs.String())
	j, _ := json.Marshal(h)
	out = append(out, string(j))
	for _, s := range out {
		if strings.Contains(s, secret32) || strings.Contains(s, raw) || strings.Contains(s, fmt.Sprintf("%x", raw)) {
			t.Errorf("the secret leaked: %s", s)
		}
	}
	if !strings.Contains(out[0], `"k."`) {
		t.Errorf("%%v of a key = %q, want its name", out[0])
	}
}

func TestTsigProviderRoundTrip(t *testing.T) {
	k, _ := testKey(t, "k", "hmac-sha384")
	p := k.provider()
	if _, err := p.Generate([]byte("x"), tsigFor("other.", "hmac-sha384.")); err == nil {
		t.Error("Generate with another key name succeeded")
	}
	if _, err := p.Generate([]byte("x"), tsigFor("k.", "hmac-sha256.")); err == nil {
		t.Error("Generate with another algorithm succeeded")
	}
	tsig := tsigFor("k.", "hmac-sha384.")
	mac, err := p.Generate([]byte("msg"), tsig)
	if err != nil {
		t.Fatal(err)
	}
	tsig.MAC = fmt.Sprintf("%x", mac)
	if err := p.Verify([]byte("msg"), tsig); err != nil {
		t.Errorf("Verify of our own MAC: %v", err)
	}
	if err := p.Verify([]byte("other"), tsig); err == nil {
		t.Error("Verify of a changed message succeeded")
	}
}

func tsigFor(name, alg string) *dns.TSIG {
	return &dns.TSIG{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTSIG}, Algorithm: alg}
}

// TestLoadKeyFileRefusesWorldReadable: a key file its group or other users
// may read (or write) is refused with the file and its mode; a private one
// loads.
func TestLoadKeyFileRefusesWorldReadable(t *testing.T) {
	text := []byte("key \"k\" { algorithm hmac-sha256; secret \"" + secret32 + "\"; };\n")
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o644, false}, {0o604, false}, {0o640, false}, {0o620, false}, {0o600, true}, {0o400, true}} {
		path := filepath.Join(t.TempDir(), "tsig.key")
		if err := os.WriteFile(path, text, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeyFile(path)
		if tt.ok {
			if err != nil {
				t.Errorf("mode %04o: %v, want it loaded", tt.mode, err)
			}
			continue
		}
		want := fmt.Sprintf("%q: mode %04o", path, tt.mode)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v, want ErrInvalid naming %s and the fix", tt.mode, err, want)
		}
		if err != nil && strings.Contains(err.Error(), secret32) {
			t.Errorf("mode %04o: the error shows the secret", tt.mode)
		}
	}
}
