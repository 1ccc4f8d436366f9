package dnsupdate

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var secretClause = regexp.MustCompile(`secret\s+"([^"]{8,})"`)

// FuzzParseKey checks that the key-file parser never panics, that what it
// accepts is a usable key, and that its errors do not repeat a secret.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("key \"understudy-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + secret32 + "\";\n};\n"))
	f.Add([]byte(`key k { algorithm hmac-sha512; secret "` + secret32 + `"; };`))
	f.Add([]byte("# c\n/* d */ key \"k.\" { secret " + secret32 + "; }; // e"))
	f.Add([]byte(`key k { secret "` + secret32 + `" };`))
	f.Add([]byte(`key "` + secret32 + `" { algorithm "` + secret32 + `"; };`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			for _, m := range secretClause.FindAllSubmatch(data, -1) {
				s := string(m[1])
				if strings.Contains(err.Error(), s) && !strings.Contains(string(data), `key "`+s) && !strings.Contains(string(data), "key "+s) && echoes(data, s) {
					t.Fatalf("error %q repeats the secret %q", err, s)
				}
			}
			return
		}
		switch k.Algorithm {
		case AlgHMACSHA256, AlgHMACSHA384, AlgHMACSHA512:
		default:
			t.Fatalf("accepted algorithm %q", k.Algorithm)
		}
		if !strings.HasSuffix(k.Name, ".") || k.Name != strings.ToLower(k.Name) || len(k.secret.b) == 0 {
			t.Fatalf("accepted key %v with %d secret bytes", k, len(k.secret.b))
		}
		if len(k.secret.b) >= 8 && strings.Contains(fmt.Sprintf("%+v %#v %x", k, k, k), string(k.secret.b)) {
			t.Fatalf("the key prints its secret")
		}
		if mac, err := k.provider().Generate([]byte("m"), tsigFor(k.Name, k.Algorithm+".")); err != nil || len(mac) == 0 {
			t.Fatalf("the parsed key cannot sign: %v", err)
		}
	})
}

// echoes reports whether ParseKey's error repeats the secret s of data, and
// not words its own message happens to share with s (a "secret" of
// " secret "): s is replaced by a marker of the same length, and the error
// must then show the marker.
func echoes(data []byte, s string) bool {
	c := "Q"
	for _, try := range []string{"Q", "Z", "J", "X", "K", "V", "W"} {
		if !strings.Contains(string(data), try) {
			c = try
			break
		}
	}
	marker := strings.Repeat(c, len(s))
	_, err := ParseKey([]byte(strings.ReplaceAll(string(data), s, marker)))
	return err != nil && strings.Contains(err.Error(), marker)
}
