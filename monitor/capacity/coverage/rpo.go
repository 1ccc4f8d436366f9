package coverage

import (
	"fmt"
	"strings"
	"time"

	"github.com/understudy/understudy/inventory"
)

// CopyLive is a service's standby copy as the monitor reports it (GET
// /v1/status: services[].sync).
type CopyLive struct {
	// Age is the time since the last good sync began reading the primary;
	// Good is false when no sync has succeeded yet.
	Age  time.Duration
	Good bool
	// Exceeded: the monitor counts the copy as older than max-rpo.
	Exceeded bool
	// LastError is why the last sync failed, Blocked why syncs wait now.
	LastError, Blocked string
}

// RecoveryPoint is what a failover of one service with sync would serve:
// a copy at most how old.
type RecoveryPoint struct {
	Service  string   `json:"service"`
	Method   string   `json:"method"`
	Paths    []string `json:"paths"`
	EveryMS  int64    `json:"every_ms"`
	MaxRPOMS int64    `json:"max_rpo_ms"`
	// AgeMS is the copy's age now (the current RPO); nil when it is not
	// known: no monitor asked (plan --monitor), or no good copy yet.
	AgeMS *int64 `json:"age_ms"`
	// Exceeded: the copy is older than max-rpo (the monitor says so).
	Exceeded bool `json:"exceeded"`
	// Note says it in words.
	Note string `json:"note"`
}

// RecoveryPoints is the report's section on the services' copies.
type RecoveryPoints struct {
	// Live says whether ages come from a monitor.
	Live bool `json:"live"`
	// Synced are the services with services[].sync, in inventory order.
	Synced []RecoveryPoint `json:"synced"`
	// Unsynced are the services without sync: a failover serves the
	// content their standby container was prepared with.
	Unsynced []string `json:"unsynced"`
}

// recoveryPoints computes the section of in.
func recoveryPoints(in Input) RecoveryPoints {
	out := RecoveryPoints{Live: in.Copies != nil, Synced: []RecoveryPoint{}, Unsynced: []string{}}
	for _, s := range in.Inventory.Services {
		if s.Sync == nil {
			out.Unsynced = append(out.Unsynced, s.Name)
			continue
		}
		out.Synced = append(out.Synced, recoveryPoint(s, in.Copies))
	}
	return out
}

func recoveryPoint(s inventory.Service, copies map[string]CopyLive) RecoveryPoint {
	sy := s.Sync
	rp := RecoveryPoint{Service: s.Name, Method: sy.Method, Paths: sy.Paths, EveryMS: sy.Every.Milliseconds(), MaxRPOMS: sy.MaxRPO.Milliseconds()}
	c, ok := copies[s.Name]
	switch {
	case copies == nil:
		rp.Note = "age not known without a monitor (plan --monitor URL)"
		return rp
	case !ok:
		rp.Note = "the monitor does not report this service's sync"
		return rp
	}
	rp.Exceeded = c.Exceeded
	var why []string
	if c.Good {
		ms := c.Age.Milliseconds()
		rp.AgeMS = &ms
		why = append(why, "copy "+span(c.Age.Round(time.Second).Milliseconds())+" old")
	} else {
		why = append(why, "no good copy yet")
	}
	if c.Exceeded {
		why = append(why, "max-rpo "+span(sy.MaxRPO.Milliseconds())+" exceeded")
	}
	if c.LastError != "" {
		why = append(why, "last sync failed: "+c.LastError)
	}
	if c.Blocked != "" {
		why = append(why, "waiting: "+c.Blocked)
	}
	rp.Note = strings.Join(why, "; ")
	return rp
}

// RPOExceeded lists "service (note)" for every service whose copy the
// monitor counts as older than its max-rpo, in inventory order.
func (r Report) RPOExceeded() []string {
	var out []string
	for _, p := range r.RecoveryPoints.Synced {
		if p.Exceeded {
			out = append(out, fmt.Sprintf("%s (%s)", p.Service, p.Note))
		}
	}
	return out
}
