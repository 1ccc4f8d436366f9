package inventory

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/understudy/understudy/internal/yamlpos"
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
	return d.result(inv)
}

// Parse is Load for an inventory already in memory: filename names it in
// errors and anchors relative paths. It does everything Load does except
// touch the file system, so a missing TSIG key file is not reported.
func Parse(filename string, data []byte) (*Inventory, error) {
	inv, d := parse(filename, data)
	return d.result(inv)
}

// result is the inventory when no error was found, with the warnings.
func (d *decoder) result(inv *Inventory) (*Inventory, error) {
	if errs := d.Errs(); errs != nil {
		return nil, errs
	}
	inv.warnings = d.Warnings()
	return inv, nil
}

// parse decodes, defaults and validates; it returns a nil inventory only when
// the YAML itself cannot be read.
func parse(filename string, data []byte) (*Inventory, *decoder) {
	d := newDecoder(filename)
	root, ferr := yamlpos.ReadDocument(filename, data)
	if root == nil && ferr == nil {
		ferr = &FieldError{File: filename, Line: 1, Col: 1, Msg: "empty inventory"}
	}
	if ferr != nil {
		d.Add(ferr)
		return nil, d
	}
	inv := &Inventory{name: filename, file: filename, pos: d.Positions()}
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
		if y := inv.Services[i].Sync; y != nil && y.SSH != nil {
			abs(&y.SSH.Key)
			abs(&y.SSH.KnownHosts)
		}
	}
}
