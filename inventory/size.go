package inventory

import (
	"strconv"

	"github.com/understudy/understudy/internal/yamlpos"
)

// formatSize writes a size the way a person would, in the largest unit that
// divides it: 4GiB, 2GB, 1500 bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

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
