package yamlpos

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Position is where a node was written in the file.
type Position struct{ Line, Col int }

// maxVisits bounds the nodes one decode may visit, so that aliases cannot
// blow a small file up into an enormous one ("billion laughs").
const maxVisits = 200000

// Decoder walks yaml.v3 nodes into Go values. It never stops at the first
// problem: every error is collected with its position and field path.
type Decoder struct {
	file string
	// What names the file's kind in messages ("inventory", "config").
	what  string
	errs  Errors
	warns Errors // problems that do not make the file invalid
	pos   map[string]Position
	set   map[string]bool // paths written with a non-null value
	// quiet holds paths already reported (a value that could not be decoded,
	// a known key that an unknown key probably meant): later errors about
	// them or below them would only repeat the first one, so they are dropped.
	quiet  map[string]bool
	visits int
}

// NewDecoder returns a decoder for the file named file (as errors name it);
// what names the file's kind in messages, such as "inventory".
func NewDecoder(file, what string) *Decoder {
	return &Decoder{file: file, what: what, pos: map[string]Position{}, set: map[string]bool{}, quiet: map[string]bool{}}
}

// File is the file's name as errors give it.
func (d *Decoder) File() string { return d.file }

// Errs returns the errors recorded so far, sorted by position (nil: none).
func (d *Decoder) Errs() Errors { return sortedOrNil(d.errs) }

// Warnings returns the warnings recorded so far, sorted by position (nil: none).
func (d *Decoder) Warnings() Errors { return sortedOrNil(d.warns) }

// ErrCount is the number of errors recorded so far.
func (d *Decoder) ErrCount() int { return len(d.errs) }

func sortedOrNil(es Errors) Errors {
	if len(es) == 0 {
		return nil
	}
	return slices.Clone(es).Sorted()
}

// Positions returns where each decoded path was written, for errors found
// after decoding (see Lookup).
func (d *Decoder) Positions() map[string]Position { return d.pos }

// Add records an error made elsewhere (such as by ReadDocument).
func (d *Decoder) Add(e *Error) { d.errs = append(d.errs, e) }

// ErrAt records an error at an explicit position.
func (d *Decoder) ErrAt(p Position, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// WarnPath records a warning at the position recorded for path.
func (d *Decoder) WarnPath(path, format string, args ...any) {
	p := d.At(path)
	d.warns = append(d.warns, &Error{File: d.file, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// ErrNode records an error at node n and silences later errors about path.
func (d *Decoder) ErrNode(n *yaml.Node, path, format string, args ...any) {
	d.ErrAt(Position{n.Line, n.Column}, path, format, args...)
	d.quiet[path] = true
}

// ErrPath records an error at the position recorded for path, or for its
// nearest ancestor when the field was not written (a missing required field).
func (d *Decoder) ErrPath(path, format string, args ...any) {
	if d.Silenced(path) {
		return
	}
	d.ErrAt(d.At(path), path, format, args...)
	d.quiet[path] = true
}

// Quiet silences later errors about path and below it.
func (d *Decoder) Quiet(path string) { d.quiet[path] = true }

// Silenced reports whether path or one of its ancestors was already reported.
func (d *Decoder) Silenced(path string) bool {
	for p := path; p != ""; p = ParentPath(p) {
		if d.quiet[p] {
			return true
		}
	}
	return false
}

// At returns the position of path or of its nearest written ancestor.
func (d *Decoder) At(path string) Position { return Lookup(d.pos, path) }

// Lookup returns the position of path in pos, or of its nearest recorded
// ancestor, or 1:1.
func Lookup(pos map[string]Position, path string) Position {
	for {
		if p, ok := pos[path]; ok {
			return p
		}
		if path == "" {
			return Position{1, 1}
		}
		path = ParentPath(path)
	}
}

// Has reports whether path was written in the file with a non-null value.
func (d *Decoder) Has(path string) bool { return d.set[path] }

// ParentPath strips the last ".key" or "[i]" from path.
func ParentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// Join is the path of key below parent.
func Join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Index is the path of element i of the sequence at parent.
func Index(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// Resolve follows aliases, counts visits and records n's position as path's;
// it returns nil when the budget is spent.
func (d *Decoder) Resolve(n *yaml.Node, path string) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			d.ErrNode(n, path, "alias chain too long")
			return nil
		}
		n = n.Alias
	}
	d.visits++
	if d.visits == maxVisits {
		d.ErrNode(n, path, "%s too large (aliases expand to more than %d nodes)", d.what, maxVisits)
	}
	if d.visits >= maxVisits || n == nil {
		return nil
	}
	d.pos[path] = Position{n.Line, n.Column}
	if !IsNull(n) {
		d.set[path] = true
	}
	return n
}

// IsNull reports whether n is an explicit null (`key:` or `key: null`).
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// KindName names a node's kind for "expected X, got Y" messages.
func KindName(n *yaml.Node) string {
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
