package inventory

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// This file holds the small field checks the validators are built from. Each
// records an error at the field's position and reports whether the value was good.

// required reports an error when v is empty.
func (d *decoder) required(path, v string) bool {
	if v == "" {
		d.ErrPath(path, "required")
		return false
	}
	return true
}

// nameRE is what names of hypervisors, VMs, standby VMs, spares and services look like.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// name checks a required name.
func (d *decoder) name(path, v string) bool {
	if !d.required(path, v) {
		return false
	}
	if !nameRE.MatchString(v) {
		d.ErrPath(path, "invalid name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters", v)
		return false
	}
	return true
}

// instanceRE is what Incus accepts as an instance name.
var instanceRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,62}$`)

// ip checks a required IP address.
func (d *decoder) ip(path, v string) {
	if d.required(path, v) && net.ParseIP(v) == nil {
		d.ErrPath(path, "%q is not an IP address", v)
	}
}

// hostPort checks host:port; an empty host is allowed only when anyHost is set.
func (d *decoder) hostPort(path, v string, anyHost bool) bool {
	host, port, err := net.SplitHostPort(v)
	if err == nil && host == "" && !anyHost {
		err = fmt.Errorf("missing host")
	}
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
			err = fmt.Errorf("port must be a number from 1 to 65535")
		}
	}
	if err != nil {
		d.ErrPath(path, "invalid address %q: want host:port, such as 127.0.0.1:9180", v)
		return false
	}
	return true
}

// noPort reports whether v is a host written without a port: a name or an
// IPv4 address without ":", or an IPv6 address in brackets (the cases
// net.SplitHostPort calls "missing port").
func noPort(v string) bool {
	return !strings.Contains(v, ":") || (strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"))
}

// url checks an absolute URL with one of the given schemes.
func (d *decoder) url(path, v string, schemes ...string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || !contains(schemes, u.Scheme) {
		d.ErrPath(path, "invalid URL %q: want %s://host:port", v, strings.Join(schemes, ":// or "))
		return false
	}
	return true
}

// oneOf checks that v is one of allowed.
func (d *decoder) oneOf(path, what, v string, allowed ...string) bool {
	if contains(allowed, v) {
		return true
	}
	d.ErrPath(path, "invalid %s %q: want %s", what, v, orList(allowed))
	return false
}

// intRange checks lo <= v <= hi.
func (d *decoder) intRange(path string, v, lo, hi int) {
	if v < lo || v > hi {
		d.ErrPath(path, "must be from %d to %d, got %d", lo, hi, v)
	}
}

// positive checks that a duration is greater than zero.
func (d *decoder) positive(path string, v time.Duration) bool {
	if v <= 0 {
		d.ErrPath(path, "must be greater than 0")
		return false
	}
	return true
}

// absPath checks a required absolute path (for paths on another host).
func (d *decoder) absPath(path, v string) {
	if d.required(path, v) && !filepath.IsAbs(v) {
		d.ErrPath(path, "%q must be an absolute path", v)
	}
}

// dnsNameRE is one label of a DNS name.
var dnsLabelRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

// dnsName checks a canonical (lower-case, dot-terminated) DNS name.
func (d *decoder) dnsName(path, v string) bool {
	if !d.required(path, v) {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(v, "."), ".")
	ok := len(v) <= 254 && v != "."
	for _, l := range labels {
		ok = ok && dnsLabelRE.MatchString(l)
	}
	if !ok {
		d.ErrPath(path, "invalid DNS name %q", v)
	}
	return ok
}

// unique reports duplicates of names among a kind of thing.
type unique struct {
	d    *decoder
	what string
	seen map[string]string // value -> path of its first use
}

func (d *decoder) unique(what string) *unique {
	return &unique{d: d, what: what, seen: map[string]string{}}
}

// add records v at path, reporting an error when it was used before.
func (u *unique) add(path, v string) {
	if v == "" {
		return
	}
	if first, dup := u.seen[v]; dup {
		p := u.d.At(first)
		u.d.ErrPath(path, "duplicate %s %q (first used at line %d)", u.what, v, p.Line)
		return
	}
	u.seen[v] = path
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// orList writes "a, b or c".
func orList(list []string) string {
	if len(list) == 1 {
		return list[0]
	}
	return strings.Join(list[:len(list)-1], ", ") + " or " + list[len(list)-1]
}
