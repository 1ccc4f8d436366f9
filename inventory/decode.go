package inventory

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// position is where a node was written in the file.
type position struct{ line, col int }

// maxVisits bounds the nodes one decode may visit, so that aliases cannot
// blow a small file up into an enormous one ("billion laughs").
const maxVisits = 200000

// decoder walks yaml.v3 nodes into Go values. It never stops at the first
// problem: every error is collected with its position and field path.
type decoder struct {
	file  string
	errs  Errors
	warns Errors // problems that do not make the inventory invalid
	pos   map[string]position
	set   map[string]bool // paths written with a non-null value
	// quiet holds paths already reported (a value that could not be decoded,
	// a known key that an unknown key probably meant): later errors about
	// them or below them would only repeat the first one, so they are dropped.
	quiet  map[string]bool
	visits int
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, pos: map[string]position{}, set: map[string]bool{}, quiet: map[string]bool{}}
}

// errAt records an error at an explicit position.
func (d *decoder) errAt(p position, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// warnPath records a warning at the position recorded for path.
func (d *decoder) warnPath(path, format string, args ...any) {
	p := d.at(path)
	d.warns = append(d.warns, &FieldError{File: d.file, Line: p.line, Col: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errNode records an error at node n and silences later errors about path.
func (d *decoder) errNode(n *yaml.Node, path, format string, args ...any) {
	d.errAt(position{n.Line, n.Column}, path, format, args...)
	d.quiet[path] = true
}

// errPath records an error at the position recorded for path, or for its
// nearest ancestor when the field was not written (a missing required field).
func (d *decoder) errPath(path, format string, args ...any) {
	if d.silenced(path) {
		return
	}
	d.errAt(d.at(path), path, format, args...)
	d.quiet[path] = true
}

// silenced reports whether path or one of its ancestors was already reported.
func (d *decoder) silenced(path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if d.quiet[p] {
			return true
		}
	}
	return false
}

// at returns the position of path or of its nearest written ancestor.
func (d *decoder) at(path string) position {
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		if path == "" {
			return position{1, 1}
		}
		path = parentPath(path)
	}
}

// has reports whether path was written in the file with a non-null value.
func (d *decoder) has(path string) bool { return d.set[path] }

// parentPath strips the last ".key" or "[i]" from path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func index(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// resolve follows aliases and counts visits; it returns nil when the budget is spent.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			d.errNode(n, path, "alias chain too long")
			return nil
		}
		n = n.Alias
	}
	d.visits++
	if d.visits == maxVisits {
		d.errNode(n, path, "inventory too large (aliases expand to more than %d nodes)", maxVisits)
	}
	if d.visits >= maxVisits || n == nil {
		return nil
	}
	d.pos[path] = position{n.Line, n.Column}
	if !isNull(n) {
		d.set[path] = true
	}
	return n
}

// isNull reports whether n is an explicit null (`key:` or `key: null`).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName names a node's kind for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return "integer " + n.Value
		case "!!bool":
			return "boolean " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!null":
			return "null"
		}
		if v := []rune(n.Value); len(v) > 60 {
			return strconv.Quote(string(v[:57]) + "...")
		}
		return strconv.Quote(n.Value)
	}
	return "an unexpected node"
}
