package dnsupdate

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// ParseAddrs parses a comma-separated list of IP addresses ("192.0.2.1,
// 2001:db8::1"), as `understudy dns set` and its --expect take them.
func ParseAddrs(list string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.Split(list, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address", f)
		}
		out = append(out, a)
	}
	return out, nil
}

// JoinAddrs writes addrs as ParseAddrs reads them: comma-separated.
func JoinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// RRType is the record type that holds a: "A" for IPv4 (also mapped into
// IPv6), else "AAAA".
func RRType(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "A"
	}
	return "AAAA"
}

// WriteRecords writes the answer's records for name, one a line in zone
// file order: NAME, TTL in seconds, type, address, separated by tabs.
func WriteRecords(w io.Writer, name string, ans Answer) error {
	for _, a := range ans.Addrs {
		if _, err := fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", name, int(ans.TTL/time.Second), RRType(a), a); err != nil {
			return fmt.Errorf("write the records of %s: %w", name, err)
		}
	}
	return nil
}

// WriteVerified writes one indented line per server of a Verify: served
// after how long, or NOT served and why.
func WriteVerified(w io.Writer, results []VerifyResult) {
	for _, r := range results {
		if r.Err == nil {
			fmt.Fprintf(w, "  served by %s after %v\n", r.Server, r.Took.Round(time.Millisecond))
		} else {
			fmt.Fprintf(w, "  NOT served by %s: %v\n", r.Server, r.Err)
		}
	}
}
