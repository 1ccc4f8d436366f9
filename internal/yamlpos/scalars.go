package yamlpos

import (
	"math"
	"time"

	"gopkg.in/yaml.v3"
)

// Scalar resolves n and checks that it is a scalar; it returns nil otherwise.
func (d *Decoder) Scalar(n *yaml.Node, path, want string) *yaml.Node {
	if n = d.Resolve(n, path); n == nil {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		d.ErrNode(n, path, "expected %s, got %s", want, KindName(n))
		return nil
	}
	return n
}

// Str decodes any scalar as a string.
func (d *Decoder) Str(dst *string) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "a string"); n != nil && !IsNull(n) {
			*dst = n.Value
		}
	}
}

// Integer decodes an integer scalar.
func (d *Decoder) Integer(dst *int) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "an integer"); n == nil || IsNull(n) {
			return
		}
		var v int
		if n.Tag != "!!int" || n.Decode(&v) != nil {
			d.ErrNode(n, path, "expected an integer, got %s", KindName(n))
			return
		}
		*dst = v
	}
}

// Number decodes an integer or decimal scalar, such as 10 or 1.5.
func (d *Decoder) Number(dst *float64) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "a number"); n == nil || IsNull(n) {
			return
		}
		var v float64
		if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.ErrNode(n, path, "expected a number, got %s", KindName(n))
			return
		}
		*dst = v
	}
}

// Boolean decodes a boolean scalar.
func (d *Decoder) Boolean(dst *bool) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "true or false"); n == nil || IsNull(n) {
			return
		}
		var v bool
		if n.Tag != "!!bool" || n.Decode(&v) != nil {
			d.ErrNode(n, path, "expected true or false, got %s", KindName(n))
			return
		}
		*dst = v
	}
}

// Duration decodes a Go duration string such as 250ms or 1h30m; negative is an error.
func (d *Decoder) Duration(dst *time.Duration) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Scalar(n, path, "a duration"); n == nil || IsNull(n) {
			return
		}
		v, err := time.ParseDuration(n.Value)
		switch {
		case err != nil || (n.Tag != "!!str" && n.Value != "0"):
			d.ErrNode(n, path, "invalid duration %q: write a number with a unit, such as 250ms, 10s or 1h", n.Value)
		case v < 0:
			d.ErrNode(n, path, "duration %s must not be negative", n.Value)
		default:
			*dst = v
		}
	}
}

// Strings decodes a sequence of scalars.
func (d *Decoder) Strings(dst *[]string) DecodeFunc {
	return func(n *yaml.Node, path string) {
		*dst = []string{}
		d.Sequence(n, path, func(_ int, v *yaml.Node, p string) {
			var s string
			d.Str(&s)(v, p)
			*dst = append(*dst, s)
		})
	}
}

// StringOrStrings decodes one string, or a sequence of them.
func (d *Decoder) StringOrStrings(dst *[]string) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Resolve(n, path); n == nil || IsNull(n) {
			return
		}
		if n.Kind == yaml.SequenceNode {
			d.Strings(dst)(n, path)
			return
		}
		var s string
		d.Str(&s)(n, path)
		*dst = []string{s}
	}
}

// StringMap decodes a mapping of scalars to scalars.
func (d *Decoder) StringMap(dst *map[string]string) DecodeFunc {
	return func(n *yaml.Node, path string) {
		if n = d.Resolve(n, path); n == nil || IsNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.ErrNode(n, path, "expected a mapping, got %s", KindName(n))
			return
		}
		m := map[string]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.Scalar(n.Content[i], path, "a string key")
			if k == nil {
				continue
			}
			p := Join(path, k.Value)
			if _, dup := m[k.Value]; dup {
				d.ErrNode(k, p, "key %q appears twice", k.Value)
				continue
			}
			var s string
			d.Str(&s)(n.Content[i+1], p)
			m[k.Value] = s
		}
		*dst = m
	}
}
