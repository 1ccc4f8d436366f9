package proxy

import "time"

// DefaultHeldMax is how long the proxy honours a placement's Held flag
// before it ignores it (see Config.HeldMax).
const DefaultHeldMax = 2 * time.Minute

// logMoveHold logs the start and end of a move hold and keeps the
// placement-held gauge.
func (p *Proxy) logMoveHold(pl Placement, res applied) {
	switch {
	case res.held:
		p.m.placementHeld.WithLabelValues(pl.Service).Set(1)
		p.log.Info("service moving; holding its new requests", "service", pl.Service, "address", pl.Address, "epoch", pl.Epoch)
	case res.release:
		p.m.placementHeld.WithLabelValues(pl.Service).Set(0)
		p.log.Info("move done; releasing held requests", "service", pl.Service, "where", pl.Where, "host", pl.Host,
			"address", pl.Address, "had_expired", res.expired)
	}
}

// staleMoveHold warns once when a move hold outlived Config.HeldMax.
func (p *Proxy) staleMoveHold(name string, held time.Duration) {
	p.m.placementHeld.WithLabelValues(name).Set(0)
	p.log.Warn("a move has held the service longer than the proxy honours holds; forwarding to its last placement",
		"service", name, "held_for", held.Round(time.Millisecond), "held_max", p.cfg.HeldMax)
}
