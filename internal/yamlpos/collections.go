package yamlpos

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeFunc decodes the value n written at path.
type DecodeFunc func(n *yaml.Node, path string)

// Field is one known key of a mapping and how to decode its value.
type Field struct {
	Key    string
	Decode DecodeFunc
}

// Mapping decodes n as a mapping whose keys must all be in fields: an
// unknown key is an error that suggests the closest known one, a repeated
// key is an error. A null value decodes as an empty mapping.
func (d *Decoder) Mapping(n *yaml.Node, path string, fields []Field) {
	if n = d.Resolve(n, path); n == nil || IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.ErrNode(n, path, "expected a mapping, got %s", KindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.ErrNode(k, path, "keys must be strings, got %s", KindName(k))
			continue
		}
		f := lookupField(fields, k.Value)
		if f == nil {
			msg, guess := unknownKey(k.Value, fields)
			d.ErrNode(k, Join(path, k.Value), "%s", msg)
			if guess != "" && !seen[guess] {
				d.quiet[Join(path, guess)] = true
			}
			continue
		}
		p := Join(path, k.Value)
		if seen[k.Value] {
			d.ErrNode(k, p, "key %q appears twice", k.Value)
			continue
		}
		seen[k.Value] = true
		f.Decode(v, p)
	}
}

func lookupField(fields []Field, key string) *Field {
	for i := range fields {
		if fields[i].Key == key {
			return &fields[i]
		}
	}
	return nil
}

// unknownKey says a key is unknown and suggests the closest known key (guess)
// or lists them all.
func unknownKey(key string, fields []Field) (msg, guess string) {
	if key == "<<" {
		return "merge keys (<<) are not supported", ""
	}
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.Key
	}
	sort.Strings(known)
	best, bestDist := "", 1<<30
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	// Close means at most one edit per three letters of the known key.
	if best != "" && bestDist*3 <= len(best) {
		return fmt.Sprintf("unknown key, did you mean %q?", best), best
	}
	if len(known) == 0 {
		return "unknown key: this mapping takes no keys", ""
	}
	return fmt.Sprintf("unknown key; known keys: %s", strings.Join(known, ", ")), ""
}

// editDistance is the Levenshtein distance between a and b, capped for long input.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Sequence decodes n as a sequence, calling item for every element.
func (d *Decoder) Sequence(n *yaml.Node, path string, item func(i int, v *yaml.Node, path string)) {
	if n = d.Resolve(n, path); n == nil || IsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.ErrNode(n, path, "expected a sequence, got %s", KindName(n))
		return
	}
	for i, v := range n.Content {
		item(i, v, Index(path, i))
	}
}
