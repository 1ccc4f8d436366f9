package yamlpos

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a YAML file, at a position in it.
type Error struct {
	// File is the file's name as given to the parser.
	File string
	// Line and Col are 1-based; 0 when the position is unknown.
	Line, Col int
	// Path is the field path, such as services[2].container.limits.memory.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as FILE:LINE:COL: field.path: message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	fmt.Fprintf(&b, ":%d:%d: ", e.Line, e.Col)
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a file.
type Errors []*Error

// Error joins the errors, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sorted orders the errors by line, column, path and message, and drops
// exact duplicates. It reorders es in place.
func (es Errors) Sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && *e == *es[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}
