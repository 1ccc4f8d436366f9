package inventory

import (
	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// bandwidth decodes a bandwidth such as 100Mbit into bytes per second.
func (d *decoder) bandwidth(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "a bandwidth"); n == nil || yamlpos.IsNull(n) {
			return
		}
		v, err := parseBandwidth(n.Value)
		if err != nil || n.Tag != "!!str" {
			d.ErrNode(n, path, "invalid bandwidth %q: write a whole number with kbit, Mbit or Gbit, such as 100Mbit", n.Value)
			return
		}
		*dst = v
	}
}
