package drill

import (
	"strings"
	"time"
)

// When a failed request happened relative to the fault and the recovery of
// its path (Failure.When).
const (
	// FailedBefore: the request ended before the injection; nothing the
	// drill did can have caused it.
	FailedBefore = "before-injection"
	// FailedOutage: the request failed between the injection (in flight
	// then, or started after it) and its path's first success from the new
	// backend: the outage the drill measures.
	FailedOutage = "outage"
	// FailedAfter: the request started after its path was first served by
	// the new backend.
	FailedAfter = "after-recovery"
)

// Failure is one failed request of the load generator, labelled with when it
// happened and, as far as its error tells, why.
type Failure struct {
	Path   string `json:"path"`
	Client int    `json:"client"`
	// StartMS is when it started, ms from the injection; MS how long it took.
	StartMS int64 `json:"start_ms"`
	MS      int64 `json:"ms"`
	// Addr is the address it connected to (DNS path), Backend which copy
	// that is: "primary", "new" (another address) or "" (the proxy path).
	Addr    string `json:"addr,omitempty"`
	Backend string `json:"backend,omitempty"`
	Err     string `json:"error"`
	// When is FailedBefore, FailedOutage or FailedAfter; Cause names the
	// kind of error (connect-timeout, refused, unreachable, reset,
	// timeout, lookup, status, other).
	When  string `json:"when"`
	Cause string `json:"cause"`
}

// classify labels every failed sample; first is each path's first success
// from the new backend.
func classify(t0 time.Time, samples []Sample, first map[string]time.Time, primary string) []Failure {
	var out []Failure
	for _, s := range samples {
		if s.OK {
			continue
		}
		f := Failure{Path: s.Path, Client: s.Client, StartMS: s.Start.Sub(t0).Milliseconds(),
			MS: s.Duration.Milliseconds(), Err: s.Err, Cause: cause(s.Err)}
		if s.Path == PathDNS && s.Addr != "" {
			f.Addr, f.Backend = s.Addr, "new"
			if s.Addr == primary {
				f.Backend = "primary"
			}
		}
		fs := first[s.Path]
		switch {
		case s.Start.Add(s.Duration).Before(t0):
			f.When = FailedBefore
		case !fs.IsZero() && s.Start.After(fs):
			f.When = FailedAfter
		default:
			f.When = FailedOutage
		}
		out = append(out, f)
	}
	return out
}

// cause names the kind of a request's error.
func cause(err string) string {
	switch {
	case strings.HasPrefix(err, "lookup"):
		return "lookup"
	case strings.Contains(err, "dial tcp") && strings.Contains(err, "i/o timeout"):
		return "connect-timeout"
	case strings.Contains(err, "connection refused"):
		return "refused"
	case strings.Contains(err, "no route to host"), strings.Contains(err, "unreachable"):
		return "unreachable"
	case strings.Contains(err, "reset by peer"), strings.Contains(err, "EOF"), strings.Contains(err, "closed"):
		return "reset"
	case strings.Contains(err, "deadline exceeded"), strings.Contains(err, "timeout"):
		return "timeout"
	case len(err) >= 3 && err[0] >= '1' && err[0] <= '5':
		return "status"
	}
	return "other"
}
