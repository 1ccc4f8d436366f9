package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/dnsupdate/dnstest"
	"github.com/understudy/understudy/internal/labtest"
)

// dnsKeyFile writes a BIND key file for name with a random secret and
// returns its path and the secret.
func dnsKeyFile(t *testing.T, name string) (string, string) {
	t.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := base64.StdEncoding.EncodeToString(raw)
	path := filepath.Join(t.TempDir(), name+".key")
	text := fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", name, secret)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, secret
}

type dnsStep struct {
	args       []string
	wantCode   int
	wantOut    string // substring of stdout
	wantErr    string // substring of stderr
	wantRecord string // suffix of web's only record after the step; "" skips
}

func runDNSSteps(t *testing.T, steps []dnsStep, secret string, records func() []string) {
	t.Helper()
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), s.args, &stdout, &stderr)
		if code != s.wantCode {
			t.Errorf("%v: exit %d, want %d (stderr %q)", s.args, code, s.wantCode, stderr.String())
		}
		if !strings.Contains(stdout.String(), s.wantOut) {
			t.Errorf("%v: stdout %q does not contain %q", s.args, stdout.String(), s.wantOut)
		}
		if !strings.Contains(stderr.String(), s.wantErr) {
			t.Errorf("%v: stderr %q does not contain %q", s.args, stderr.String(), s.wantErr)
		}
		if code != 0 && s.wantCode != 2 && strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: stderr is not one line: %q", s.args, stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Errorf("%v: the TSIG secret appears in the output", s.args)
		}
		if s.wantRecord != "" {
			if got := records(); len(got) != 1 || !strings.HasSuffix(got[0], s.wantRecord) {
				t.Errorf("%v: records %q, want one ending in %q", s.args, got, s.wantRecord)
			}
		}
	}
}

func TestDNSCommand(t *testing.T) {
	keyFile, secret := dnsKeyFile(t, "cli-key")
	wrongKey, _ := dnsKeyFile(t, "cli-key")
	srv := dnstest.New(t, "example.test.", map[string]string{"cli-key.": secret})
	srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
	flags := []string{"--server", srv.Addr, "--zone", "example.test", "--key-file", keyFile}
	with := func(args ...string) []string { return append(append([]string{"dns"}, args...), flags...) }
	records := func() []string { return srv.Records("web.example.test.") }
	runDNSSteps(t, []dnsStep{
		{with("get", "web"), 0, "web.example.test.\t60\tA\t10.0.0.1", "", ""},
		{with("get", "nothing"), 0, "", "no A or AAAA records", ""},
		{with("set", "web", "10.0.1.1", "--expect", "10.0.0.1"), 0, "swapped from 10.0.0.1", "", "A\t10.0.1.1"},
		{with("set", "web", "10.0.2.1", "--expect", "10.0.0.1"), 3, "", "holds [10.0.1.1], not the expected [10.0.0.1]; record unchanged", "A\t10.0.1.1"},
		{with("set", "web.example.test.", "10.0.2.1", "--ttl", "30s"), 0, "replaced", "", "30\tIN\tA\t10.0.2.1"},
		{[]string{"dns", "set", "web", "10.0.3.1", "--server", srv.Addr, "--zone", "example.test", "--key-file", wrongKey}, 1, "", "BADSIG", "A\t10.0.2.1"},
		{with("set", "web", "10.0.3.1", "--ttl", "1500ms"), 2, "", "whole", "A\t10.0.2.1"},
		{with("set", "web", "not-an-ip"), 2, "", `"not-an-ip" is not an IP address`, ""},
		{with("set", "web", "10.0.3.1", "--expect", "x"), 2, "", "--expect", ""},
		{with("set", "web.other.test.", "10.0.3.1"), 2, "", "outside zone", ""},
		{with("get"), 2, "", "expected `get NAME`", ""},
		{with("frob", "web"), 2, "", "expected `get NAME`", ""},
		{[]string{"dns", "get", "web"}, 2, "", "no DNS server or zone", ""},
		{[]string{"dns", "set", "web", "10.0.3.1", "--server", srv.Addr, "--zone", "example.test"}, 2, "", "no TSIG key", ""},
		{with("-h"), 0, "", "understudy dns set NAME", ""},
		{with("--bogus"), 2, "", "flag provided but not defined", ""},
	}, secret, records)
}

// TestIntegrationDNSCommand drives the command against the lab's BIND with
// the lab inventory, as an operator would.
func TestIntegrationDNSCommand(t *testing.T) {
	lab := labtest.Require(t)
	if _, err := os.Stat(lab.Inventory); err != nil {
		t.Fatalf("the lab is up but its inventory is missing: %v", err)
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	name := "t-dns-cli-" + hex.EncodeToString(suffix)
	fqdn := name + "." + lab.Zone
	t.Cleanup(func() { nsupdateDelete(t, lab, fqdn) })
	secret, err := os.ReadFile(lab.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	records := func() []string {
		var out bytes.Buffer
		run(context.Background(), []string{"dns", "get", name, "-f", lab.Inventory}, &out, &bytes.Buffer{})
		return strings.Split(strings.TrimSpace(out.String()), "\n")
	}
	f := []string{"-f", lab.Inventory}
	runDNSSteps(t, []dnsStep{
		{append([]string{"dns", "set", name, "10.200.0.110"}, f...), 0, "replaced", "", "A\t10.200.0.110"},
		{append([]string{"dns", "set", name, "10.200.1.110", "--expect", "10.200.0.110"}, f...), 0, "swapped", "", "A\t10.200.1.110"},
		{append([]string{"dns", "set", name, "10.200.2.110", "--expect", "10.200.0.110"}, f...), 3, "", "record unchanged", "A\t10.200.1.110"},
		{append([]string{"dns", "get", fqdn}, f...), 0, fqdn + "\t", "", ""},
	}, lastSecretLine(string(secret)), records)
}

// lastSecretLine extracts the quoted secret from a BIND key file, to check
// that it never reaches the output.
func lastSecretLine(keyFile string) string {
	_, rest, ok := strings.Cut(keyFile, "secret \"")
	if !ok {
		return "\x00no secret found\x00"
	}
	s, _, _ := strings.Cut(rest, "\"")
	return s
}

// nsupdateDelete removes a test name with BIND's own client.
func nsupdateDelete(t *testing.T, lab *labtest.Lab, fqdn string) {
	host, port, _ := strings.Cut(lab.DNSServer, ":")
	script := fmt.Sprintf("server %s %s\nzone %s\nupdate delete %s\nsend\n", host, port, lab.Zone, fqdn)
	cmd := exec.Command("nsupdate", "-k", lab.KeyFile)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("clean up %s with nsupdate: %v: %s", fqdn, err, out)
	}
}

// TestDNSCommandInventory takes the settings from an inventory and waits for
// the secondaries listed in dns.verify.
func TestDNSCommandInventory(t *testing.T) {
	keyFile, secret := dnsKeyFile(t, "inv-key")
	primary := dnstest.New(t, "example.test.", map[string]string{"inv-key.": secret})
	caughtUp := dnstest.New(t, "example.test.", nil)
	behind := dnstest.New(t, "example.test.", nil)
	primary.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
	caughtUp.Set("web.example.test.", "web.example.test. 20 IN A 10.0.1.1")
	behind.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
	inv := func(verify ...string) string {
		path := filepath.Join(t.TempDir(), "inv.yaml")
		text := fmt.Sprintf("dns:\n  server: %s\n  zone: example.test.\n  tsig-key-file: %s\n  ttl: 20s\n  verify: [%s]\n",
			primary.Addr, keyFile, strings.Join(verify, ", "))
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good, bad := inv(caughtUp.Addr), inv(caughtUp.Addr, behind.Addr)
	records := func() []string { return primary.Records("web.example.test.") }
	runDNSSteps(t, []dnsStep{
		{[]string{"dns", "set", "web", "10.0.1.1", "-f", good}, 0, "served by " + caughtUp.Addr, "", "20\tIN\tA\t10.0.1.1"},
		{[]string{"dns", "set", "web", "10.0.1.1", "-f", bad, "--wait", "300ms"}, 1, "NOT served by " + behind.Addr, "the primary holds the new addresses, but", "A\t10.0.1.1"},
		{[]string{"dns", "get", "web", "-f", good}, 0, "web.example.test.\t20\tA\t10.0.1.1", "", ""},
		{[]string{"dns", "get", "web", "-f", "/nonexistent/inv.yaml"}, 1, "", "read inventory", ""},
	}, secret, records)
}
