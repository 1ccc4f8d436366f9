package coverage

import (
	"slices"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/inventory"
)

// LastDrills is how many of the most recent recovered drills of a mode the
// expected time is the median of (the drill's regression window).
const LastDrills = 5

// modes are the standby modes, in the order the report lists them.
var modes = []inventory.Mode{inventory.ModeWarm, inventory.ModeCold, inventory.ModeRestore}

// modeFigures is, per mode, the median recovery of the last LastDrills
// recovered drills of that mode in history (oldest first).
func modeFigures(history []drill.Result) []ModeFigure {
	out := make([]ModeFigure, 0, len(modes))
	for _, m := range modes {
		var v []int64
		for i := len(history) - 1; i >= 0 && len(v) < LastDrills; i-- {
			r := history[i]
			if r.Mode == string(m) && r.Verdict == drill.Recovered && r.RecoveryMS != nil {
				v = append(v, *r.RecoveryMS)
			}
		}
		f := ModeFigure{Mode: string(m), Drills: len(v)}
		if len(v) > 0 {
			slices.Sort(v)
			med := v[len(v)/2]
			if len(v)%2 == 0 {
				med = (v[len(v)/2-1] + v[len(v)/2]) / 2
			}
			f.MedianMS, f.MinMS, f.MaxMS = &med, &v[0], &v[len(v)-1]
		}
		out = append(out, f)
	}
	return out
}

// figure returns the median of mode, nil without drills.
func figure(figs []ModeFigure, mode inventory.Mode) (*int64, int) {
	for _, f := range figs {
		if f.Mode == string(mode) {
			return f.MedianMS, f.Drills
		}
	}
	return nil, 0
}
