package proxy

import "time"

// DefaultHeldMax is how long the proxy honours a placement's Held or
// FailingOver flag before it ignores it (see Config.HeldMax).
const DefaultHeldMax = 2 * time.Minute

// Why a request waits: the reason label of
// understudy_proxy_held_requests_total.
const (
	// reasonSuspect: the proxy's own hold, its backend found down.
	reasonSuspect = "suspect"
	// reasonMove: the placement says Held (a migration or failback).
	reasonMove = "move"
	// reasonFailover: the placement says FailingOver (the monitor confirmed
	// the failure and its failover runs).
	reasonFailover = "failover"
	// reasonUnplaced: no placement with an address arrived yet.
	reasonUnplaced = "unplaced"
)

// holdReasons are the reason label's values.
var holdReasons = []string{reasonSuspect, reasonMove, reasonFailover, reasonUnplaced}

// logPlaceHold logs the start and end of a placement hold and of the
// placement's Unavailable, and keeps the placement-held gauge.
func (p *Proxy) logPlaceHold(pl Placement, res applied) {
	switch {
	case res.held:
		p.m.placementHeld.WithLabelValues(pl.Service).Set(1)
		p.log.Info("placement holds the service; holding its new requests", "service", pl.Service, "reason", res.reason,
			"address", pl.Address, "epoch", pl.Epoch)
	case res.release:
		p.m.placementHeld.WithLabelValues(pl.Service).Set(0)
		p.log.Info("placement hold ended; releasing held requests", "service", pl.Service, "reason", res.reason,
			"where", pl.Where, "host", pl.Host, "address", pl.Address, "had_expired", res.expired)
	}
	if res.down && pl.Unavailable != "" {
		p.log.Warn("the monitor says the service is unavailable; answering its requests 503 at once",
			"service", pl.Service, "unavailable", pl.Unavailable)
	} else if res.down {
		p.log.Info("the service is available again", "service", pl.Service, "address", pl.Address)
	}
}

// stalePlaceHold warns once when a placement hold outlived Config.HeldMax.
func (p *Proxy) stalePlaceHold(name, reason string, held time.Duration) {
	p.m.placementHeld.WithLabelValues(name).Set(0)
	p.log.Warn("the placement has held the service longer than the proxy honours holds; forwarding to its last placement",
		"service", name, "reason", reason, "held_for", held.Round(time.Millisecond), "held_max", p.cfg.HeldMax)
}
