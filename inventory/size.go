package inventory

import "github.com/understudy/understudy/internal/yamlpos"

// bandwidthUnits maps a bandwidth suffix to bits per second (decimal, as
// network links are rated).
var bandwidthUnits = map[string]int64{"kbit": 1e3, "Mbit": 1e6, "Gbit": 1e9}

// parseBandwidth reads a whole number of bits per second with a unit:
// "100Mbit", "800kbit", "1Gbit". It returns bytes per second, at least 1.
func parseBandwidth(s string) (int64, error) {
	bits, err := yamlpos.ParseUnits(s, bandwidthUnits)
	if err != nil || bits == 0 {
		return 0, err
	}
	return max(bits/8, 1), nil
}
