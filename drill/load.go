package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resolver asks the authoritative DNS server for a name's addresses, with
// no cache in between (a client honouring TTL 0).
type Resolver interface {
	Lookup(ctx context.Context, name string) ([]netip.Addr, error)
}

// LoadConfig bounds and aims the load generator.
type LoadConfig struct {
	// Clients is the number of concurrent clients per path.
	Clients int
	// Paths are the client paths (PathDNS, PathProxy).
	Paths []string
	// FQDN is the service's name (with or without the final dot).
	FQDN string
	// Port is the service's port (DNS path).
	Port int
	// URLPath is the request path, e.g. "/".
	URLPath string
	// ExpectStatus is the status that counts as a success (default 200).
	ExpectStatus int
	// ProxyAddr is the proxy's host:port (proxy path).
	ProxyAddr string
	// Pause is each client's pause between two requests (default 50ms).
	Pause time.Duration
	// DialTimeout bounds the TCP connect of one request (default 300ms): a
	// client gives up on a dead address quickly and asks DNS again, so the
	// DNS path sees the flip when it happens rather than a timeout later.
	DialTimeout time.Duration
	// DNSTimeout bounds one request on the DNS path, lookup included (default 2s).
	DNSTimeout time.Duration
	// ProxyTimeout bounds one request through the proxy, which may hold it
	// during a relocation (default 10s).
	ProxyTimeout time.Duration
	// MaxRequests bounds the number of requests of all clients together
	// (default 20000).
	MaxRequests int
	// MaxDuration bounds the whole run (default 90s).
	MaxDuration time.Duration
}

func (c LoadConfig) withDefaults() LoadConfig {
	if c.ExpectStatus == 0 {
		c.ExpectStatus = http.StatusOK
	}
	if c.URLPath == "" {
		c.URLPath = "/"
	}
	if c.Pause <= 0 {
		c.Pause = 50 * time.Millisecond
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 300 * time.Millisecond
	}
	if c.DNSTimeout <= 0 {
		c.DNSTimeout = 2 * time.Second
	}
	if c.ProxyTimeout <= 0 {
		c.ProxyTimeout = 10 * time.Second
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 20000
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = 90 * time.Second
	}
	return c
}

// Load is a running load generator. Stop it with Stop.
type Load struct {
	cfg     LoadConfig
	res     Resolver
	client  *http.Client
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	watch   func(Sample) // called with every sample, under mu
	mu      sync.Mutex
	samples []Sample
	budget  int // requests still allowed
	done    chan struct{}
}

// StartLoad starts cfg.Clients clients per path; each sends one request at a
// time until Stop, ctx's end, MaxDuration or MaxRequests. watch, if not nil,
// sees every sample as it is recorded (it must not block).
func StartLoad(ctx context.Context, cfg LoadConfig, res Resolver, watch func(Sample)) (*Load, error) {
	cfg = cfg.withDefaults()
	if cfg.Clients <= 0 {
		return nil, fmt.Errorf("load: %d clients: want at least one", cfg.Clients)
	}
	for _, p := range cfg.Paths {
		switch {
		case p == PathDNS && res == nil:
			return nil, errors.New("load: the DNS path needs a resolver")
		case p == PathProxy && cfg.ProxyAddr == "":
			return nil, errors.New("load: the proxy path needs the proxy's address")
		case p != PathDNS && p != PathProxy:
			return nil, fmt.Errorf("load: unknown path %q", p)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	l := &Load{
		cfg: cfg, res: res, cancel: cancel, watch: watch, budget: cfg.MaxRequests, done: make(chan struct{}),
		// A fresh connection per request, as a client that just resolved the
		// name would open; keep-alive would pin a client to the old backend.
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil,
			DialContext: (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext}},
	}
	for _, p := range cfg.Paths {
		for i := range cfg.Clients {
			l.wg.Go(func() { l.loop(ctx, p, i) })
		}
	}
	go func() { l.wg.Wait(); close(l.done) }()
	return l, nil
}

// Done is closed once every client stopped (Stop, MaxDuration or MaxRequests).
func (l *Load) Done() <-chan struct{} { return l.done }

// Stop ends every client, waits for them and returns all samples in the
// order they were recorded.
func (l *Load) Stop() []Sample {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Sample(nil), l.samples...)
}

// loop is one client. The clients start spread over one pause, so they do
// not all connect at once (a burst that overflows a small listen backlog).
func (l *Load) loop(ctx context.Context, path string, client int) {
	sleep(ctx, l.cfg.Pause*time.Duration(client)/time.Duration(l.cfg.Clients))
	for ctx.Err() == nil {
		if !l.take() {
			return
		}
		s := l.request(ctx, path)
		s.Client = client
		if ctx.Err() != nil && !s.OK {
			return // cut short by Stop: not a failure of the service
		}
		l.record(s)
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.cfg.Pause):
		}
	}
}

// take spends one request of the budget.
func (l *Load) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.budget <= 0 {
		return false
	}
	l.budget--
	return true
}

func (l *Load) record(s Sample) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, s)
	if l.watch != nil {
		l.watch(s)
	}
}

// request sends one request on path and times it.
func (l *Load) request(ctx context.Context, path string) Sample {
	s := Sample{Path: path, Start: time.Now()}
	timeout := l.cfg.DNSTimeout
	if path == PathProxy {
		timeout = l.cfg.ProxyTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := strings.TrimSuffix(l.cfg.FQDN, ".")
	var url string
	if path == PathDNS {
		addrs, err := l.res.Lookup(rctx, l.cfg.FQDN)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no address")
		}
		if err != nil {
			s.Duration, s.Err = time.Since(s.Start), "lookup: "+err.Error()
			return s
		}
		s.Addr = addrs[0].String()
		url = "http://" + net.JoinHostPort(s.Addr, strconv.Itoa(l.cfg.Port)) + l.cfg.URLPath
	} else {
		s.Addr = l.cfg.ProxyAddr
		url = "http://" + l.cfg.ProxyAddr + l.cfg.URLPath
	}
	s.OK, s.Backend, s.Err = l.get(rctx, url, host)
	s.Duration = time.Since(s.Start)
	return s
}

// get GETs url with the Host header host and reads at most 4 KiB of body.
func (l *Load) get(ctx context.Context, url, host string) (ok bool, body, errText string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, "", err.Error()
	}
	req.Host = host
	resp, err := l.client.Do(req)
	if err != nil {
		return false, "", shortErr(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return false, "", "read body: " + shortErr(err)
	}
	body = strings.TrimSpace(string(b))
	if len(body) > 64 {
		body = body[:64]
	}
	if resp.StatusCode != l.cfg.ExpectStatus {
		return false, body, resp.Status
	}
	return true, body, ""
}

// shortErr drops the repeated "Get URL:" prefix of a client error.
func shortErr(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}
