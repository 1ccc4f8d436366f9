package inventory

import (
	"math"
	"time"

	"gopkg.in/yaml.v3"
)

// scalar resolves n and checks that it is a scalar; it returns nil otherwise.
func (d *decoder) scalar(n *yaml.Node, path, want string) *yaml.Node {
	if n = d.resolve(n, path); n == nil {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		d.errNode(n, path, "expected %s, got %s", want, kindName(n))
		return nil
	}
	return n
}

// str decodes any scalar as a string.
func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.scalar(n, path, "a string"); n != nil && !isNull(n) {
			*dst = n.Value
		}
	}
}

// integer decodes an integer scalar.
func (d *decoder) integer(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.scalar(n, path, "an integer"); n == nil || isNull(n) {
			return
		}
		var v int
		if n.Tag != "!!int" || n.Decode(&v) != nil {
			d.errNode(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		*dst = v
	}
}

// number decodes an integer or decimal scalar, such as 10 or 1.5.
func (d *decoder) number(dst *float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.scalar(n, path, "a number"); n == nil || isNull(n) {
			return
		}
		var v float64
		if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.errNode(n, path, "expected a number, got %s", kindName(n))
			return
		}
		*dst = v
	}
}

// boolean decodes a boolean scalar.
func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.scalar(n, path, "true or false"); n == nil || isNull(n) {
			return
		}
		var v bool
		if n.Tag != "!!bool" || n.Decode(&v) != nil {
			d.errNode(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		*dst = v
	}
}

// duration decodes a Go duration string such as 250ms or 1h30m; negative is an error.
func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.scalar(n, path, "a duration"); n == nil || isNull(n) {
			return
		}
		v, err := time.ParseDuration(n.Value)
		switch {
		case err != nil || (n.Tag != "!!str" && n.Value != "0"):
			d.errNode(n, path, "invalid duration %q: write a number with a unit, such as 250ms, 10s or 1h", n.Value)
		case v < 0:
			d.errNode(n, path, "duration %s must not be negative", n.Value)
		default:
			*dst = v
		}
	}
}

// size decodes a byte size such as 512MiB, 4GiB, 1G or a plain number of bytes.
func (d *decoder) size(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.scalar(n, path, "a size"); n == nil || isNull(n) {
			return
		}
		v, err := parseSize(n.Value)
		if err != nil || (n.Tag != "!!str" && n.Tag != "!!int") {
			d.errNode(n, path, "invalid size %q: write a number with a unit, such as 512MiB, 4GiB or 1G", n.Value)
			return
		}
		*dst = v
	}
}

// bandwidth decodes a bandwidth such as 100Mbit into bytes per second.
func (d *decoder) bandwidth(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.scalar(n, path, "a bandwidth"); n == nil || isNull(n) {
			return
		}
		v, err := parseBandwidth(n.Value)
		if err != nil || n.Tag != "!!str" {
			d.errNode(n, path, "invalid bandwidth %q: write a whole number with kbit, Mbit or Gbit, such as 100Mbit", n.Value)
			return
		}
		*dst = v
	}
}

// strings decodes a sequence of scalars.
func (d *decoder) strings(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		*dst = []string{}
		d.sequence(n, path, func(_ int, v *yaml.Node, p string) {
			var s string
			d.str(&s)(v, p)
			*dst = append(*dst, s)
		})
	}
}

// stringOrStrings decodes one string, or a sequence of them.
func (d *decoder) stringOrStrings(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.resolve(n, path); n == nil || isNull(n) {
			return
		}
		if n.Kind == yaml.SequenceNode {
			d.strings(dst)(n, path)
			return
		}
		var s string
		d.str(&s)(n, path)
		*dst = []string{s}
	}
}

// stringMap decodes a mapping of scalars to scalars.
func (d *decoder) stringMap(dst *map[string]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = d.resolve(n, path); n == nil || isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.errNode(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := map[string]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.scalar(n.Content[i], path, "a string key")
			if k == nil {
				continue
			}
			p := join(path, k.Value)
			if _, dup := m[k.Value]; dup {
				d.errNode(k, p, "key %q appears twice", k.Value)
				continue
			}
			var s string
			d.str(&s)(n.Content[i+1], p)
			m[k.Value] = s
		}
		*dst = m
	}
}
