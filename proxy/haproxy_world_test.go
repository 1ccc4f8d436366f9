package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/lxd"
)

// The comparison's own names and addresses (HACKING.md: the proxy owns
// 10.200.0.180-189 on host-a; agents of tests 10.200.1.130-199):
// services t-proxy-c<N> with primaries t-proxy-c<N>-vm at 10.200.0.183-188,
// HAProxy's primaries t-proxy-chp at 10.200.0.189, and the standby
// containers the agent prepares from 10.200.1.183-188.
const (
	cmpPrefix      = "t-proxy-c"
	cmpFirstAddr   = 183
	cmpHAPrimary   = "t-proxy-chp"
	cmpHAAddr      = "10.200.0.189"
	cmpAgentPool   = "10.200.1.183-10.200.1.188"
	cmpAgentName   = "t-proxy-standby"
	cmpSetup       = 2 * time.Minute // bound of bringing the world up
	cmpMaxServices = 6
)

// cmpService is one protected service of the comparison (the fields
// labtest.InventoryTemplate reads, and the Host the proxy routes).
type cmpService struct {
	Name, FQDN, VM, Address, Mode string
	Host                          string // FQDN without the trailing dot
	StandbyAddr                   string // of its warm standby container, once prepared
}

// cmpWorld is the real understudy daemons (agent, monitor, proxy: the
// built binary) over the lab, with n services.
type cmpWorld struct {
	t          *testing.T
	lab        *labtest.Lab
	bin, dir   string
	hostA      *lxd.Client
	services   []cmpService
	monitorURL string
	proxyURL   string
}

// understudyBinary returns $UNDERSTUDY_BIN, or builds the binary.
func understudyBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("UNDERSTUDY_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "understudy")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/understudy").CombinedOutput(); err != nil {
		t.Fatalf("build understudy: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// daemon runs the binary with args until the test ends (SIGTERM, then
// wait), its output in the file side.log under the world's directory.
func (w *cmpWorld) daemon(side string, args ...string) {
	w.t.Helper()
	logf, err := os.Create(filepath.Join(w.dir, side+".log"))
	if err != nil {
		w.t.Fatal(err)
	}
	cmd := exec.Command(w.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start %s: %v", side, err)
	}
	w.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			w.t.Errorf("%s did not stop on SIGTERM within 30 s", side)
		}
		logf.Close()
		if w.t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			w.t.Logf("%s log:\n%s", side, tail(string(b), 60))
		}
	})
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

const cmpAgentTemplate = `name: {{.Name}}
listen: {{.Listen}}
tls: {cert: {{.PKI}}/agent.crt, key: {{.PKI}}/agent.key, client-ca: {{.PKI}}/ca.crt}
incus: {socket: {{.Socket}}}
state-dir: {{.State}}
network: {gateway: {{.Gateway}}, prefix-len: 24, pool: {{.Pool}}}
capacity: {containers: 20, memory: 4GiB}
activate-timeout: 20s
criu: {disable: true}
`

// newCmpWorld creates n services' primaries and DNS records, and runs
// the agent, the monitor and the proxy as the built binary.
func newCmpWorld(t *testing.T, lab *labtest.Lab, n int) *cmpWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmpSetup)
	defer cancel()
	w := &cmpWorld{t: t, lab: lab, bin: understudyBinary(t), dir: t.TempDir()}
	conns := labconn.Open(ctx, t, lab)
	w.hostA = conns.HostA
	for i := range n {
		name := fmt.Sprintf("%s%d", cmpPrefix, i+1)
		s := cmpService{Name: name, Mode: "warm", VM: name + "-vm", Address: fmt.Sprintf("10.200.0.%d", cmpFirstAddr+i),
			FQDN: name + "." + lab.Zone, Host: strings.TrimSuffix(name+"."+lab.Zone, ".")}
		t.Cleanup(func() { removeInstance(conns.Standby, s.Name) }) // the agent's standby container
		labContainer(t, lab.HostA, lab.Image, s.VM, s.Address)
		pointDNS(ctx, t, lab, conns, s.FQDN, s.Address)
		w.services = append(w.services, s)
	}
	certs := labtest.MakePKI(t, w.dir)
	agentAddr := freeAddr(t)
	agentCfg := filepath.Join(w.dir, "agent.yaml")
	writeFile(t, agentCfg, labtest.Render(t, cmpAgentTemplate, map[string]string{
		"Name": cmpAgentName, "Listen": agentAddr, "PKI": certs, "Socket": lab.Standby.Socket,
		"State": filepath.Join(w.dir, "agent"), "Gateway": lab.Standby.Gateway, "Pool": cmpAgentPool,
	}))
	w.daemon("agent", "agent", "--config", agentCfg)
	waitTCP(ctx, t, "the agent", agentAddr)

	monAddr := freeAddr(t)
	inv := filepath.Join(w.dir, "inventory.yaml")
	writeFile(t, inv, labtest.Render(t, labtest.InventoryTemplate, map[string]any{
		"Listen": monAddr, "Standby": cmpAgentName, "DNS": lab.DNSServer, "Zone": lab.Zone, "Key": lab.KeyFile,
		"State": filepath.Join(w.dir, "state"), "PKI": certs, "Gateway": lab.HostA.Gateway, "Socket": lab.HostA.Socket,
		"Agent": "https://" + agentAddr, "Services": w.services, "Image": lab.Image,
	}))
	w.monitorURL = "http://" + monAddr
	w.daemon("monitor", "monitor", "-f", inv)
	w.waitPrepared(ctx)

	proxyAddr := freeAddr(t)
	w.proxyURL = "http://" + proxyAddr
	w.daemon("proxy", "proxy", "-f", inv, "--listen", proxyAddr, "--monitor", w.monitorURL)
	for _, s := range w.services {
		waitHostAnswers(ctx, t, w.proxyURL, s.Host, s.VM)
	}
	return w
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// removeInstance deletes an instance if it exists (cleanup).
func removeInstance(c *lxd.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = c.Delete(ctx, name)
}

// pointDNS points fqdn at addr and deletes the name when the test ends.
func pointDNS(ctx context.Context, t *testing.T, lab *labtest.Lab, conns labconn.Conns, fqdn, addr string) {
	t.Helper()
	if err := conns.DNS.Replace(ctx, fqdn, []netip.Addr{netip.MustParseAddr(addr)}, 10*time.Second, nil); err != nil {
		t.Fatalf("point %s at %s: %v", fqdn, addr, err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, "nsupdate", "-k", lab.KeyFile)
		cmd.Stdin = strings.NewReader(fmt.Sprintf("server %s\nupdate delete %s A\nsend\n",
			strings.Replace(lab.DNSServer, ":", " ", 1), fqdn))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("cleanup: delete %s: %v: %s", fqdn, err, out)
		}
	})
}

// waitTCP waits until addr accepts a connection.
func waitTCP(ctx context.Context, t *testing.T, what, addr string) {
	t.Helper()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never listened on %s: %v", what, addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitHostAnswers waits until front answers GET / for host with want.
func waitHostAnswers(ctx context.Context, t *testing.T, front, host, want string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front+"/", nil)
		req.Host = host
		if resp, err := client.Do(req); err == nil {
			if last = readAll(resp); last == want {
				return
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s for %s never answered %q (last %q)", front, host, want, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return strings.TrimSpace(b.String())
		}
	}
}

// monitorStatus is the part of the monitor's GET /v1/status the
// comparison reads.
type monitorStatus struct {
	Services []struct {
		Service string `json:"service"`
		State   string `json:"state"`
		Where   string `json:"where"`
		Standby struct {
			Prepared bool   `json:"prepared"`
			Address  string `json:"address"`
		} `json:"standby"`
		LastIncident *struct {
			TotalMS float64 `json:"total_ms"`
			Result  string  `json:"result"`
			Open    bool    `json:"open"`
			Phases  []struct {
				Phase string  `json:"phase"`
				AtMS  float64 `json:"at_ms"`
			} `json:"phases"`
		} `json:"last_incident"`
	} `json:"services"`
}

func (w *cmpWorld) status(ctx context.Context) (monitorStatus, error) {
	var st monitorStatus
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.monitorURL+"/v1/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /v1/status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitPrepared waits until every service's warm standby container is
// prepared, and records its address.
func (w *cmpWorld) waitPrepared(ctx context.Context) {
	w.t.Helper()
	var last monitorStatus
	var lastErr error
	for {
		st, err := w.status(ctx)
		ready := 0
		if err == nil {
			for _, ss := range st.Services {
				for i := range w.services {
					if w.services[i].Name == ss.Service && ss.Standby.Prepared && ss.Standby.Address != "" {
						w.services[i].StandbyAddr = ss.Standby.Address
						ready++
					}
				}
			}
			last = st
		}
		lastErr = err
		if ready == len(w.services) {
			return
		}
		select {
		case <-ctx.Done():
			b, _ := json.Marshal(last)
			w.t.Fatalf("standby containers never all prepared: %s (err %v)", b, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
