package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// yamlLine finds the line number in yaml.v3's syntax error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// ReadDocument parses data as exactly one YAML document and returns its root
// node: nil, and no error, for an empty or null document (the caller says
// what should have been there). A second document and a syntax error are
// errors with their position; file names the positions.
func ReadDocument(file string, data []byte) (root *yaml.Node, ferr *Error) {
	defer func() {
		// yaml.v3 is not supposed to panic, but the file comes from outside.
		if r := recover(); r != nil {
			root, ferr = nil, &Error{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Col: extra.Column, Msg: "only one YAML document is allowed"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 || IsNull(doc.Content[0]) {
		return nil, nil
	}
	return doc.Content[0], nil
}

// parserProblems are yaml.v3's parser (not scanner) errors, whose "line N"
// is 0-based: yaml.v3 adds one only for scanner errors.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError turns a yaml.v3 syntax error into an Error. yaml.v3 reports
// only the line (in its message: it has no error type for syntax errors);
// the column is then given as 1.
func syntaxError(file string, err error) *Error {
	msg := err.Error()
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		if parserProblems[msg] {
			line++
		}
	} else if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	return &Error{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + msg}
}
