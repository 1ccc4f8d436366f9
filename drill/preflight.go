package drill

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// baseline is what the preflight learnt about the healthy service.
type baseline struct {
	body      string // what the primary answers: tells the copies apart
	incident  string // the last incident's ID before the drill
	incidents int    // the number of incidents before the drill
}

// preflight checks everything a drill needs and returns every reason to
// refuse at once, wrapped in ErrPreflight.
func preflight(ctx context.Context, cfg Config, d Deps) (baseline, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var b baseline
	var reasons []string
	fail := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }

	body, primaryErr := checkPrimary(ctx, cfg)
	if primaryErr != nil {
		fail("the service does not answer on its primary: %v", primaryErr)
	}
	b.body = body
	if err := d.Agent.Ready(ctx); err != nil {
		fail("the standby agent is not ready: %v", err)
	}
	if addrs, err := d.DNS.Lookup(ctx, cfg.FQDN); err != nil {
		fail("DNS: %v", err)
	} else if !equalAddrs(addrs, cfg.Primary.Address) {
		fail("DNS: %s points at %v, not at the primary %s", cfg.FQDN, addrs, cfg.Primary.Address)
	}
	if err := d.Monitor.Healthy(ctx); err != nil {
		fail("the monitor is not running: %v", err)
	} else if st, err := d.Monitor.Service(ctx, cfg.Service); err != nil {
		fail("the monitor: %v", err)
	} else {
		if st.State != "primary" {
			fail("the monitor has service %q in state %q, not on its primary", cfg.Service, st.State)
		}
		if d := st.DampedUntil; time.Now().Before(d) {
			fail("flap damping refuses failovers of %q until %s", cfg.Service, d.UTC().Format(time.TimeOnly))
		}
		if !st.Standby.Prepared {
			fail("the standby container of %q is not prepared yet%s", cfg.Service, why(st.Standby.Error, st.Standby.Note))
		}
		if st.LastIncident != nil {
			b.incident = st.LastIncident.ID
		}
		b.incidents = st.Incidents
	}
	if cfg.Via != ViaDNS && primaryErr == nil {
		if err := checkProxy(ctx, cfg, body); err != nil {
			fail("the proxy: %v", err)
		}
	}
	if len(reasons) > 0 {
		return b, fmt.Errorf("%w: %s", ErrPreflight, strings.Join(reasons, "; "))
	}
	return b, nil
}

func why(errText, note string) string {
	switch {
	case errText != "":
		return ": " + errText
	case note != "":
		return ": " + note
	}
	return ""
}

// checkPrimary checks the service on its primary and returns its answer.
func checkPrimary(ctx context.Context, cfg Config) (string, error) {
	if cfg.TCPCheck {
		addr := net.JoinHostPort(cfg.Primary.Address.String(), strconv.Itoa(cfg.Port))
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", err
		}
		c.Close()
	}
	return get(ctx, cfg.primaryURL(), "", cfg.ExpectStatus)
}

// checkProxy checks that the proxy routes the service to the primary.
func checkProxy(ctx context.Context, cfg Config, want string) error {
	if cfg.ProxyAddr == "" {
		return fmt.Errorf("no proxy address (proxy.listen)")
	}
	body, err := get(ctx, "http://"+cfg.ProxyAddr+cfg.CheckPath, strings.TrimSuffix(cfg.FQDN, "."), cfg.ExpectStatus)
	if err != nil {
		return err
	}
	if want != "" && body != want {
		return fmt.Errorf("answers %q for %s, the primary answers %q", body, cfg.FQDN, want)
	}
	return nil
}

// get GETs url once (Host host when set) and returns the trimmed body.
func get(ctx context.Context, url, host string, expect int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if host != "" {
		req.Host = host
	}
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := cl.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != expect {
		return "", fmt.Errorf("GET %s: %s, want %d", url, resp.Status, expect)
	}
	body := strings.TrimSpace(string(b))
	if len(body) > 64 {
		body = body[:64]
	}
	return body, nil
}
