package inventory

import (
	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// size decodes a byte size such as 512MiB, 4GiB, 1G or a plain number of bytes.
func (d *decoder) size(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "a size"); n == nil || yamlpos.IsNull(n) {
			return
		}
		v, err := parseSize(n.Value)
		if err != nil || (n.Tag != "!!str" && n.Tag != "!!int") {
			d.ErrNode(n, path, "invalid size %q: write a number with a unit, such as 512MiB, 4GiB or 1G", n.Value)
			return
		}
		*dst = v
	}
}

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
