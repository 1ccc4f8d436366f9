package probe

// hysteresis turns single probe results into an up/down state: Fails
// consecutive failures make an up target down, Passes consecutive successes
// make a down target up. A target starts up, so a monitor that starts raises
// nothing until a target failed Fails times in a row.
type hysteresis struct {
	fails, passes int
	up            bool
	run           int // consecutive results against the current state
}

func newHysteresis(fails, passes int) *hysteresis {
	return &hysteresis{fails: max(fails, 1), passes: max(passes, 1), up: true}
}

// observe records one result and reports whether the state changed.
func (h *hysteresis) observe(ok bool) (changed bool) {
	if ok == h.up {
		h.run = 0
		return false
	}
	h.run++
	need := h.fails
	if !h.up {
		need = h.passes
	}
	if h.run < need {
		return false
	}
	h.up, h.run = ok, 0
	return true
}
