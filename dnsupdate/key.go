package dnsupdate

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// Supported TSIG algorithms, as written in BIND key files.
const (
	AlgHMACSHA256 = "hmac-sha256" // the default when a key file names none
	AlgHMACSHA384 = "hmac-sha384"
	AlgHMACSHA512 = "hmac-sha512"
)

// maxKeyFileSize bounds what LoadKeyFile reads; key files are a few lines.
const maxKeyFileSize = 64 << 10

// Key is a TSIG key: its name (fully qualified, lower case), its algorithm
// (hmac-sha256, hmac-sha384 or hmac-sha512) and its secret.
//
// The secret is unexported and never printed: String, GoString, Format and
// LogValue show only the name and the algorithm, and it sits behind a pointer
// so that printing a struct that embeds a Key shows an address, not bytes.
type Key struct {
	Name      string
	Algorithm string
	secret    *keySecret
}

type keySecret struct{ b []byte }

// NewKey returns a key from its parts. name may be given without the final
// dot; algorithm "" means hmac-sha256.
func NewKey(name, algorithm string, secret []byte) (*Key, error) {
	n := dns.CanonicalName(name)
	if _, ok := dns.IsDomainName(n); !ok || n == "." || !plainKeyName(n) {
		return nil, &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("TSIG key name %q is not a domain name of ASCII letters, digits, '-', '_' and '.'", name)}
	}
	alg, err := canonicalAlgorithm(algorithm)
	if err != nil {
		return nil, err
	}
	if len(secret) == 0 {
		return nil, &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("TSIG key %q has an empty secret", n)}
	}
	return &Key{Name: n, Algorithm: alg, secret: &keySecret{b: append([]byte(nil), secret...)}}, nil
}

// plainKeyName reports whether n holds only ASCII letters, digits, '-', '_'
// and '.': a name every server spells the same way once lower-cased (the
// canonical form lower-cases ASCII only, so other bytes would make one key
// two names).
func plainKeyName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// canonicalAlgorithm maps the accepted spellings to the BIND name.
func canonicalAlgorithm(a string) (string, error) {
	switch dns.CanonicalName(a) {
	case ".", dns.HmacSHA256:
		return AlgHMACSHA256, nil
	case dns.HmacSHA384:
		return AlgHMACSHA384, nil
	case dns.HmacSHA512:
		return AlgHMACSHA512, nil
	}
	shown := "given"
	if len(a) <= 24 && strings.Trim(strings.ToLower(a), "abcdefghijklmnopqrstuvwxyz0123456789-.") == "" {
		shown = fmt.Sprintf("%q", a) // quote it only when it cannot be a misplaced secret
	}
	return "", &dnsError{kind: ErrInvalid, msg: "the TSIG algorithm " + shown + " is not supported (use hmac-sha256, hmac-sha384 or hmac-sha512)"}
}

// LoadKeyFile reads a BIND key file as tsig-keygen writes it:
//
//	key "understudy-key" {
//		algorithm hmac-sha256;
//		secret "base64...";
//	};
//
// The file must hold exactly one key, and only its owner may have access to
// it: a file that its group or other users may read or write (mode bits
// 0077) is refused, as ssh refuses such a private key. Errors name the file
// and the line, never the secret.
func LoadKeyFile(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load TSIG key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load TSIG key file %q: %w", path, err)
	}
	if err := checkKeyMode(path, fi.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load TSIG key file %q: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("load TSIG key file %q: larger than %d bytes, not a key file", path, maxKeyFileSize)}
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("load TSIG key file %q: %w", path, err)
	}
	return k, nil
}

// checkKeyMode refuses a key file that others than its owner may access.
func checkKeyMode(path string, mode os.FileMode) error {
	if !mode.IsRegular() {
		return &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("load TSIG key file %q: not a regular file", path)}
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return &dnsError{kind: ErrInvalid, msg: fmt.Sprintf(
			"load TSIG key file %q: mode %04o lets its group or other users read or change the secret; make it private: chmod 600 %s",
			path, perm, path)}
	}
	return nil
}

// String describes the key without its secret.
func (k Key) String() string {
	return fmt.Sprintf("TSIG key %q (%s)", k.Name, k.Algorithm)
}

// GoString describes the key without its secret, for %#v.
func (k Key) GoString() string {
	return fmt.Sprintf("dnsupdate.Key{Name:%q, Algorithm:%q, secret:REDACTED}", k.Name, k.Algorithm)
}

// Format prints the key without its secret whatever the verb.
func (k Key) Format(s fmt.State, verb rune) {
	if verb == 'v' && s.Flag('#') {
		io.WriteString(s, k.GoString())
		return
	}
	io.WriteString(s, k.String())
}

// LogValue logs the key's name and algorithm only.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", k.Name), slog.String("algorithm", k.Algorithm))
}

// MarshalText keeps the secret out of encoders that use it (JSON, YAML).
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// provider signs and verifies with this key through miekg/dns.
func (k *Key) provider() dns.TsigProvider { return tsigProvider{k} }

// newHash returns the HMAC for the key's algorithm.
func (k *Key) newHash() hash.Hash {
	switch k.Algorithm {
	case AlgHMACSHA384:
		return hmac.New(sha512.New384, k.secret.b)
	case AlgHMACSHA512:
		return hmac.New(sha512.New, k.secret.b)
	default:
		return hmac.New(sha256.New, k.secret.b)
	}
}

// tsigProvider implements dns.TsigProvider for one key, so the secret never
// has to be handed to miekg/dns as a base64 string in a map.
type tsigProvider struct{ k *Key }

func (p tsigProvider) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	if dns.CanonicalName(t.Hdr.Name) != p.k.Name {
		return nil, dns.ErrSecret
	}
	if dns.CanonicalName(t.Algorithm) != dns.Fqdn(p.k.Algorithm) {
		return nil, dns.ErrKeyAlg
	}
	h := p.k.newHash()
	h.Write(msg)
	return h.Sum(nil), nil
}

func (p tsigProvider) Verify(msg []byte, t *dns.TSIG) error {
	mac, err := p.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return dns.ErrSig
	}
	if !hmac.Equal(mac, got) {
		return dns.ErrSig
	}
	return nil
}
