package dnsupdate

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/understudy/understudy/internal/clock"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout = 2 * time.Second // per attempt
	DefaultRetries = 2               // after the first attempt
)

// Config says which server and zone a Client talks to and how.
type Config struct {
	// Server is the zone's authoritative primary, "host:port" or "host"
	// (port 53).
	Server string
	// Zone is the zone's apex, e.g. "lab.test." (the final dot is optional).
	Zone string
	// Key signs every request to Server. Nil sends unsigned requests, which
	// a correctly configured primary refuses for updates.
	Key *Key
	// Timeout bounds each attempt (UDP, then TCP on truncation). Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Retries is how many more attempts follow a timeout or SERVFAIL. Zero
	// means DefaultRetries; a negative value disables retries.
	Retries int
	// Logger receives debug and warning logs. Nil discards them.
	Logger *slog.Logger
}

// Client sends updates and queries for one zone to one server. It is safe
// for concurrent use.
type Client struct {
	server  string
	zone    string
	key     *Key
	timeout time.Duration
	retries int
	log     *slog.Logger
	clock   clock.Clock // tells TSIG the time; tests skew it (clocktest.Skewed)
}

// New checks cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.Server == "" {
		return nil, &dnsError{kind: ErrInvalid, msg: "new DNS client: no server given"}
	}
	server := withPort(cfg.Server)
	if cfg.Zone == "" {
		return nil, &dnsError{kind: ErrInvalid, msg: "new DNS client: no zone given"}
	}
	zone := dns.CanonicalName(cfg.Zone)
	if _, ok := dns.IsDomainName(zone); !ok {
		return nil, &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("new DNS client: zone %q is not a domain name", cfg.Zone)}
	}
	if k := cfg.Key; k != nil {
		if k.secret == nil || len(k.secret.b) == 0 {
			return nil, &dnsError{kind: ErrInvalid, msg: "new DNS client: the TSIG key has no secret; make keys with LoadKeyFile, ParseKey or NewKey"}
		}
		key, err := NewKey(k.Name, k.Algorithm, k.secret.b) // the fields are exported: check them again
		if err != nil {
			return nil, fmt.Errorf("new DNS client: %w", err)
		}
		cfg.Key = key
	}
	c := &Client{
		server: server, zone: zone, key: cfg.Key,
		timeout: cfg.Timeout, retries: cfg.Retries, log: cfg.Logger, clock: clock.Wall,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "dnsupdate", "server", server, "zone", zone)
	return c, nil
}

// Server returns the "host:port" the client sends to.
func (c *Client) Server() string { return c.server }

// Zone returns the zone's canonical name.
func (c *Client) Zone() string { return c.zone }

// Qualify returns the canonical fully qualified form of name. A name ending
// in a dot, or already ending in the zone's name, is taken as absolute;
// anything else is relative to the zone ("web" → "web.lab.test."; "@" is the
// apex). Names outside the zone are an ErrInvalid error.
func (c *Client) Qualify(name string) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", &dnsError{kind: ErrInvalid, msg: "no name given"}
	case n == "@":
		n = c.zone
	case dns.IsFqdn(n):
	case dns.IsSubDomain(c.zone, dns.Fqdn(n)):
		n = dns.Fqdn(n)
	default:
		n = n + "." + c.zone
	}
	n = dns.CanonicalName(n)
	if _, ok := dns.IsDomainName(n); !ok || strings.Contains(n, "..") {
		return "", &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("%q is not a valid domain name", name)}
	}
	if !dns.IsSubDomain(c.zone, n) {
		return "", &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("name %q is outside zone %q", name, c.zone)}
	}
	return n, nil
}
