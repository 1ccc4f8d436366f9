package yamlpos

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// sizeUnits maps a size suffix to its multiplier. Binary units (KiB, MiB,
// GiB, TiB, and Ki, Mi, Gi, Ti) are powers of 1024; decimal ones (K, M, G, T,
// and KB, MB, GB, TB) powers of 1000, as Incus and Kubernetes read them.
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
	"Ki": 1 << 10, "KiB": 1 << 10, "Mi": 1 << 20, "MiB": 1 << 20,
	"Gi": 1 << 30, "GiB": 1 << 30, "Ti": 1 << 40, "TiB": 1 << 40,
}

// ParseSize reads a whole number of bytes with an optional unit: "512MiB",
// "4GiB", "1G", "1073741824". It refuses fractions, signs and overflow.
func ParseSize(s string) (int64, error) { return ParseUnits(s, sizeUnits) }

// ParseUnits reads a whole number followed by one of units (the empty unit
// only if units has it), and returns it multiplied by the unit's value. It
// refuses fractions, signs and overflow.
func ParseUnits(s string, units map[string]int64) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("no number")
	}
	mult, ok := units[strings.TrimSpace(s[i:])]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", s[i:])
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// Size decodes a byte size such as 512MiB, 4GiB, 1G or a plain number of bytes.
func (d *Decoder) Size(dst *int64) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "a size"); n == nil || IsNull(n) {
			return
		}
		v, err := ParseSize(n.Value)
		if err != nil || (n.Tag != "!!str" && n.Tag != "!!int") {
			d.ErrNode(n, path, "invalid size %q: write a number with a unit, such as 512MiB, 4GiB or 1G", n.Value)
			return
		}
		*dst = v
	}
}

// FormatSize writes a size the way a person would, in the largest unit that
// divides it: 4GiB, 2GB, 1500 bytes.
func FormatSize(n int64) string {
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
