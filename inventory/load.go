package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Load reads the inventory file at path, decodes it strictly, applies the
// defaults, makes relative file paths absolute against the file's directory,
// validates it, and checks that the files the monitor reads (the TSIG key
// file, custom playbooks) exist and are readable. It returns every problem at
// once as Errors, whose messages name path as given.
//
// Certificate and key files (monitor.agent-tls, incus client-cert, ...) are
// not opened: they usually live on the hosts that use them, and a missing one
// is reported, with its path, when the connection is made.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	inv, d := parse(path, data)
	if inv != nil {
		d.checkFiles(inv)
	}
	if len(d.errs) > 0 {
		return nil, sortErrors(d.errs)
	}
	if len(d.warns) > 0 {
		inv.warnings = sortErrors(d.warns)
	}
	return inv, nil
}

// Parse is Load for an inventory already in memory: filename names it in
// errors and anchors relative paths. It does everything Load does except
// touch the file system, so a missing TSIG key file is not reported.
func Parse(filename string, data []byte) (*Inventory, error) {
	inv, d := parse(filename, data)
	if len(d.errs) > 0 {
		return nil, sortErrors(d.errs)
	}
	if len(d.warns) > 0 {
		inv.warnings = sortErrors(d.warns)
	}
	return inv, nil
}

// parse decodes, defaults and validates; it returns a nil inventory only when
// the YAML itself cannot be read.
func parse(filename string, data []byte) (*Inventory, *decoder) {
	d := newDecoder(filename)
	root, ferr := readYAML(filename, data)
	if ferr != nil {
		d.errs = append(d.errs, ferr)
		return nil, d
	}
	inv := &Inventory{name: filename, file: filename, pos: d.pos}
	dir := filepath.Dir(filename)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if filename != "" {
		inv.file = filepath.Join(dir, filepath.Base(filename))
	}
	d.inventory(root, inv)
	d.applyDefaults(inv)
	d.validate(inv)
	inv.makeAbsolute(dir)
	return inv, d
}

// yamlLine finds the line number in yaml.v3's syntax error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// readYAML parses exactly one YAML document whose root is a mapping.
func readYAML(filename string, data []byte) (root *yaml.Node, ferr *FieldError) {
	defer func() {
		// yaml.v3 is not supposed to panic, but the inventory comes from outside.
		if r := recover(); r != nil {
			root, ferr = nil, &FieldError{File: filename, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: filename, Line: 1, Col: 1, Msg: "empty inventory"}
		}
		return nil, yamlError(filename, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &FieldError{File: filename, Line: extra.Line, Col: extra.Column, Msg: "only one YAML document is allowed"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(filename, err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &FieldError{File: filename, Line: 1, Col: 1, Msg: "empty inventory"}
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

// yamlError turns a yaml.v3 syntax error into a FieldError. yaml.v3 reports
// only the line; the column is then given as 1.
func yamlError(filename string, err error) *FieldError {
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
	return &FieldError{File: filename, Line: line, Col: 1, Msg: "invalid YAML: " + msg}
}

// makeAbsolute resolves relative local file paths against dir.
func (inv *Inventory) makeAbsolute(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	tls := func(t *TLSFiles) { abs(&t.CA); abs(&t.Cert); abs(&t.Key) }
	incus := func(c *Incus) { abs(&c.Socket); abs(&c.ClientCert); abs(&c.ClientKey); abs(&c.ServerCert) }
	abs(&inv.DNS.TSIGKeyFile)
	abs(&inv.Monitor.StateDir)
	tls(&inv.Monitor.AgentTLS)
	tls(&inv.Monitor.APITLS)
	tls(&inv.Monitor.APIClientTLS)
	abs(&inv.Monitor.APITokenFile)
	if inv.Monitor.Etcd != nil {
		tls(&inv.Monitor.Etcd.TLS)
	}
	for i := range inv.Hypervisors {
		incus(&inv.Hypervisors[i].Incus)
	}
	for i := range inv.Spares {
		incus(&inv.Spares[i].Incus)
	}
	for i := range inv.Standby {
		incus(&inv.Standby[i].Incus)
	}
	for i := range inv.Services {
		abs(&inv.Services[i].Playbook)
	}
}
