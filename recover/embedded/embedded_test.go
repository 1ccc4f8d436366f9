package embedded

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// anonEndpointEnv carries the endpoint to TestEmbeddedEtcdAnonymousClientHelper
// when the test binary runs again as another user.
const anonEndpointEnv = "UNDERSTUDY_TEST_ANON_ETCD_ENDPOINT"

// TestEmbeddedEtcdRefusesAnonymousClient: another local user cannot read or
// write the embedded etcd through any of its client endpoints. Every
// endpoint is a unix socket with mode 0600 in a 0700 directory; when the
// test runs as root it also runs a client as user nobody (uid 65534) against
// each endpoint and sees it fail to write or read.
func TestEmbeddedEtcdRefusesAnonymousClient(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	e, err := Start(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	urls := e.etcd.Config().ListenClientUrls
	if len(urls) == 0 {
		t.Fatal("no client endpoint to check")
	}
	for _, u := range urls {
		if u.Scheme != "unix" {
			t.Errorf("client endpoint %s: a %s listener, want only unix sockets", u.String(), u.Scheme)
			continue
		}
		fi, err := os.Stat(u.Path)
		if err != nil {
			t.Fatalf("client socket: %v", err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("client socket %s: mode %v, want a socket with 0600", u.Path, fi.Mode())
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory %s: %v, %v; want mode 0700", dir, fi.Mode(), err)
	}
	if os.Geteuid() != 0 {
		t.Log("not root: the client as another user is not run")
		return
	}
	bin := nobodyCopyOfTestBinary(t)
	for _, u := range urls {
		out := runAsNobody(t, bin, u.String())
		if !strings.HasPrefix(out, "refused:") {
			t.Errorf("a client as user nobody at %s: %q, want refused", u.String(), out)
		}
	}
	// Nothing the anonymous client tried reached the store.
	resp, err := e.Client.Get(context.Background(), "/anonymous", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("anonymous keys: %v, %v; want none", resp.Kvs, err)
	}
}

// TestEmbeddedEtcdAnonymousClientHelper is the client
// TestEmbeddedEtcdRefusesAnonymousClient runs as another user; it does
// nothing in a normal run. It prints "ok" when it could write and read,
// else "refused: " and the error.
func TestEmbeddedEtcdAnonymousClientHelper(t *testing.T) {
	ep := os.Getenv(anonEndpointEnv)
	if ep == "" {
		t.Skip("only run by TestEmbeddedEtcdRefusesAnonymousClient")
	}
	fmt.Println(anonymousTry(ep))
}

// anonymousTry writes and reads a key through ep with no credentials.
func anonymousTry(ep string) string {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second})
	if err != nil {
		return "refused: " + err.Error()
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "/anonymous/placement", "rewritten"); err != nil {
		return "refused: " + err.Error()
	}
	if _, err := cli.Get(ctx, "/understudy/", clientv3.WithPrefix()); err != nil {
		return "refused: " + err.Error()
	}
	return "ok"
}

// nobodyCopyOfTestBinary copies the running test binary where user nobody
// may execute it (go test builds it in a 0700 directory).
func nobodyCopyOfTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "understudy-anon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "recover.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runAsNobody runs the helper test in bin as uid/gid 65534 against ep and
// returns its verdict line.
func runAsNobody(t *testing.T, bin, ep string) string {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^TestEmbeddedEtcdAnonymousClientHelper$", "-test.count=1")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{anonEndpointEnv + "=" + ep, "HOME=" + filepath.Dir(bin)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run the client as nobody: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if line == "ok" || strings.HasPrefix(line, "refused:") {
			return line
		}
	}
	t.Fatalf("the client as nobody printed no verdict:\n%s", out)
	return ""
}
