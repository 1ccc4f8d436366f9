package inventory

import (
	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// FieldError is one problem in an inventory, at a position in its file:
// FILE:LINE:COL: field.path: message. It is the one positioned YAML error
// of the tree (internal/yamlpos), shared with playbooks and the standby
// agent's configuration.
type FieldError = yamlpos.Error

// Errors is every problem found in an inventory, sorted by position.
type Errors = yamlpos.Errors

// decoder is the inventory's schema (schema.go) and checks (validate.go) on
// the shared positioned decoder.
type decoder struct{ *yamlpos.Decoder }

func newDecoder(file string) *decoder { return &decoder{yamlpos.NewDecoder(file, "inventory")} }

// field is one key of the schema and how to decode its value.
type field struct {
	key    string
	decode yamlpos.DecodeFunc
}

// mapping decodes n as a mapping whose keys must all be in fields.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) {
	fs := make([]yamlpos.Field, len(fields))
	for i, f := range fields {
		fs[i] = yamlpos.Field{Key: f.key, Decode: f.decode}
	}
	d.Mapping(n, path, fs)
}
