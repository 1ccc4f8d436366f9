package statuspage_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/understudy/understudy/internal/labtest"
)

// The browser side of the page's lab test: Debian's chromium in headless
// mode, driven over the DevTools protocol, with a client certificate.
//
// Chromium on Linux takes client certificates from the NSS database in
// $HOME/.pki/nssdb, and in headless mode presents one only when the
// AutoSelectCertificateForUrls policy selects it (there is no dialog to
// answer). Policies are read from /etc/chromium/policies/managed/ only, so
// the test writes one file there for the monitor's exact URL and removes
// it at the end.

// policyDir is where Debian's chromium reads managed policies.
const policyDir = "/etc/chromium/policies/managed"

// browserTools are the programs the browser test needs (lab.sh installs
// them: chromium, libnss3-tools; openssl).
var browserTools = []string{"chromium", "certutil", "pk12util", "openssl"}

// browser is one headless chromium and its DevTools connection to one page.
type browser struct {
	t    *testing.T
	conn *websocket.Conn
	next int
}

// startBrowser sets up an NSS database trusting caFile with the client
// certificate certFile/keyFile, a policy that presents it to origin, and
// starts chromium until the test ends.
func startBrowser(t *testing.T, origin, caFile, certFile, keyFile string) *browser {
	t.Helper()
	for _, tool := range browserTools {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.Skip(t, "%s not installed (bash examples/lab/lab.sh up installs chromium and libnss3-tools)", tool)
		}
	}
	home := t.TempDir()
	nss := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	p12 := filepath.Join(home, "browser.p12")
	run(t, "certutil", "-N", "-d", nss, "--empty-password")
	run(t, "certutil", "-A", "-d", nss, "-n", "understudy-test-ca", "-t", "C,,", "-i", caFile)
	run(t, "openssl", "pkcs12", "-export", "-in", certFile, "-inkey", keyFile, "-out", p12, "-passout", "pass:")
	run(t, "pk12util", "-i", p12, "-d", nss, "-W", "")
	writePolicy(t, origin, caFile)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-extensions", "--disable-background-networking",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+filepath.Join(home, "profile"), "--window-size=1400,1600", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	drained := make(chan struct{})
	t.Cleanup(func() { cancel(); _ = cmd.Wait(); <-drained })
	wsURL := devtoolsURL(t, stderr, drained)
	page := pageTarget(t, wsURL)
	conn, _, err := websocket.DefaultDialer.Dial(page, nil)
	if err != nil {
		t.Fatalf("connect to the page's DevTools: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &browser{t: t, conn: conn}
}

// writePolicy makes chromium present the certificate issued by caFile's CA
// to origin, without asking.
func writePolicy(t *testing.T, origin, caFile string) {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("%s: no PEM block", caFile)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", caFile, err)
	}
	rule, err := json.Marshal(map[string]any{"pattern": origin, "filter": map[string]any{"ISSUER": map[string]string{"CN": ca.Subject.CommonName}}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := json.Marshal(map[string]any{"AutoSelectCertificateForUrls": []string{string(rule)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(policyDir, 0o755); err != nil {
		labtest.Skip(t, "cannot write chromium's policy (root needed): %v", err)
	}
	path := filepath.Join(policyDir, "understudy-statuspage-test.json")
	if err := os.WriteFile(path, policy, 0o644); err != nil {
		labtest.Skip(t, "cannot write chromium's policy (root needed): %v", err)
	}
	t.Cleanup(func() { os.Remove(path) })
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// devtoolsURL reads chromium's stderr until it names its DevTools address,
// then keeps draining it so chromium never blocks on it; drained is closed
// when stderr ends (chromium exited).
func devtoolsURL(t *testing.T, stderr io.Reader, drained chan<- struct{}) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		defer close(drained)
		defer close(found)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := devtoolsLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatal("chromium exited before it listened for DevTools")
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not listen for DevTools within 30 s")
	}
	return ""
}

// pageTarget returns the DevTools websocket of chromium's first page.
func pageTarget(t *testing.T, browserWS string) string {
	t.Helper()
	host := strings.TrimPrefix(browserWS, "ws://")
	host = host[:strings.Index(host, "/")]
	resp, err := http.Get("http://" + host + "/json/list")
	if err != nil {
		t.Fatalf("list chromium's targets: %v", err)
	}
	defer resp.Body.Close()
	var targets []struct{ Type, WebSocketDebuggerURL string }
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		t.Fatalf("decode chromium's targets: %v", err)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			return tg.WebSocketDebuggerURL
		}
	}
	t.Fatalf("chromium has no page: %+v", targets)
	return ""
}

// call sends one DevTools command and returns its result, skipping the
// events in between (none is enabled).
func (b *browser) call(method string, params any, result any) error {
	b.next++
	id := b.next
	if err := b.conn.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if err := b.conn.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return fmt.Errorf("send %s: %w", method, err)
	}
	for {
		if err := b.conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return err
		}
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := b.conn.ReadJSON(&msg); err != nil {
			return fmt.Errorf("read the answer to %s: %w", method, err)
		}
		if msg.ID != id {
			continue
		}
		if msg.Error != nil {
			return fmt.Errorf("%s: %s", method, msg.Error.Message)
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(msg.Result, result)
	}
}

// navigate opens url in the page.
func (b *browser) navigate(url string) {
	b.t.Helper()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call("Page.navigate", map[string]string{"url": url}, &res); err != nil {
		b.t.Fatal(err)
	}
	if res.ErrorText != "" {
		b.t.Fatalf("navigate to %s: %s", url, res.ErrorText)
	}
}

// eval evaluates a JavaScript expression in the page into v (its JSON value).
func (b *browser) eval(expr string, v any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s", expr, res.ExceptionDetails.Text)
	}
	return json.Unmarshal(res.Result.Value, v)
}

// screenshot saves the whole page as PNG at path.
func (b *browser) screenshot(path string) {
	b.t.Helper()
	var res struct {
		Data string `json:"data"`
	}
	if err := b.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res); err != nil {
		b.t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot of the page: %s (%d bytes)", path, len(png))
}
