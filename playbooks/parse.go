package playbooks

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// Error is one problem in a playbook file, with its position and field
// path (such as "steps[2].retry.attempts"), formatted FILE:LINE:COL: path:
// message: the tree's one positioned YAML error (internal/yamlpos), shared
// with the inventory and the standby agent's configuration.
type Error = yamlpos.Error

// Errors is every problem found in one playbook; Parse reports them all at
// once, sorted by position.
type Errors = yamlpos.Errors

// Load reads and parses the playbook file at path.
func Load(path string) (*Playbook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read playbook: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a playbook strictly: unknown keys, keys that do not belong to
// the step's kind, duplicate keys, bad durations and an order that cannot
// work are errors, each with file:line:col. name labels the positions.
// The error, when not nil, is an Errors.
func Parse(name string, data []byte) (*Playbook, error) {
	p := &parser{yamlpos.NewDecoder(name, "playbook")}
	root, ferr := yamlpos.ReadDocument(name, data)
	if ferr != nil {
		return nil, Errors{ferr}
	}
	if root == nil {
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: "empty playbook: want a list of steps"}}
	}
	pb := &Playbook{Name: name}
	if root.Kind != yaml.SequenceNode {
		p.errorf(root, "", "want a list of steps, got %s", yamlpos.KindName(root))
		return nil, p.Errs()
	}
	for i, item := range root.Content {
		if s, ok := p.step(item, fmt.Sprintf("steps[%d]", i)); ok {
			pb.Steps = append(pb.Steps, s)
		}
	}
	if p.ErrCount() == 0 {
		p.order(root, pb)
	}
	if errs := p.Errs(); errs != nil {
		return nil, errs
	}
	return pb, nil
}

// parser walks a playbook's nodes through the shared positioned decoder
// (yamlpos: Mapping, Scalar, Duration); a step's keys depend on its kind,
// so step keeps each value's node and decodes it once the kind is known.
type parser struct{ *yamlpos.Decoder }

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.ErrAt(yamlpos.Position{Line: n.Line, Col: n.Column}, path, format, args...)
}

// fieldKinds says which step kinds accept each optional key.
var fieldKinds = map[string][]Kind{
	"url":        {Notify},
	"command":    {Exec},
	"duration":   {Wait},
	"idempotent": {Fence, Notify, Exec},
}

// stepKeys are a step's keys, in the order step decodes them.
var stepKeys = []string{"step", "timeout", "retry", "url", "command", "duration", "idempotent"}

// step decodes one list item.
func (p *parser) step(n *yaml.Node, path string) (Step, bool) {
	var s Step
	if n = p.Resolve(n, path); n == nil {
		return s, false
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping with a `step` key, got %s", yamlpos.KindName(n))
		return s, false
	}
	s.Line = n.Line
	before := p.ErrCount()
	fields := p.values(n, path, stepKeys)
	kindNode, has := fields["step"]
	if !has {
		p.errorf(n, path, "missing `step` (one of %s)", kindList())
		return s, false
	}
	if kindNode = p.Scalar(kindNode, path+".step", "a step kind"); kindNode == nil {
		return s, false
	}
	s.Kind = Kind(kindNode.Value)
	if !s.Kind.valid() {
		p.errorf(kindNode, path+".step", "unknown step %q (want one of %s)", kindNode.Value, kindList())
		return s, false
	}
	for _, key := range stepKeys[1:] {
		v, ok := fields[key]
		if !ok {
			continue
		}
		fp := path + "." + key
		switch key {
		case "timeout":
			s.Timeout = p.duration(v, fp, false)
		case "retry":
			s.Retry = p.retry(v, fp)
		default:
			if !kindIn(s.Kind, fieldKinds[key]) {
				p.errorf(v, fp, "`%s` does not apply to step %s", key, s.Kind)
				continue
			}
			p.optional(&s, key, v, fp)
		}
	}
	p.required(&s, n, path)
	if s.Timeout == 0 {
		s.Timeout = s.Kind.DefaultTimeout()
	}
	return s, p.ErrCount() == before
}

// values checks the mapping n (yamlpos.Mapping: unknown and repeated keys
// are errors) and returns the value node of each of keys it holds.
func (p *parser) values(n *yaml.Node, path string, keys []string) map[string]*yaml.Node {
	out := make(map[string]*yaml.Node, len(keys))
	fields := make([]yamlpos.Field, len(keys))
	for i, k := range keys {
		fields[i] = yamlpos.Field{Key: k, Decode: func(v *yaml.Node, _ string) { out[k] = v }}
	}
	p.Mapping(n, path, fields)
	return out
}

// optional decodes a kind-specific key.
func (p *parser) optional(s *Step, key string, v *yaml.Node, fp string) {
	switch key {
	case "url":
		s.URL = p.scalar(v, fp)
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.errorf(v, fp, "want an http or https URL, got %q", s.URL)
		}
	case "command":
		if v = p.Resolve(v, fp); v == nil {
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.errorf(v, fp, "want a list of strings (argv), got %s", yamlpos.KindName(v))
			return
		}
		for i, a := range v.Content {
			s.Command = append(s.Command, p.scalar(a, fmt.Sprintf("%s[%d]", fp, i)))
		}
	case "duration":
		s.Duration = p.duration(v, fp, true)
	case "idempotent":
		b, err := strconv.ParseBool(p.scalar(v, fp))
		if err != nil {
			p.errorf(v, fp, "want true or false, got %q", v.Value)
		}
		s.Idempotent = b
	}
}

// required checks the keys a kind cannot do without.
func (p *parser) required(s *Step, n *yaml.Node, path string) {
	switch s.Kind {
	case Exec:
		if len(s.Command) == 0 || s.Command[0] == "" {
			p.errorf(n, path+".command", "exec needs a non-empty command")
		}
	case Wait:
		if s.Duration <= 0 {
			p.errorf(n, path+".duration", "wait needs a positive duration")
		}
	}
}

// retryKeys are the keys of a step's retry mapping.
var retryKeys = []string{"attempts", "backoff", "max-backoff", "budget"}

func (p *parser) retry(n *yaml.Node, path string) Retry {
	var r Retry
	if n = p.Resolve(n, path); n == nil {
		return r
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping {attempts, backoff, max-backoff, budget}, got %s", yamlpos.KindName(n))
		return r
	}
	fields := p.values(n, path, retryKeys)
	if v, ok := fields["attempts"]; ok {
		fp := path + ".attempts"
		a, err := strconv.Atoi(p.scalar(v, fp))
		if err != nil || a < 1 || a > 100 {
			p.errorf(v, fp, "want an integer from 1 to 100, got %q", v.Value)
		}
		r.Attempts = a
	}
	for key, dst := range map[string]*time.Duration{"backoff": &r.Backoff, "max-backoff": &r.MaxBackoff, "budget": &r.Budget} {
		if v, ok := fields[key]; ok {
			*dst = p.duration(v, path+"."+key, key != "backoff")
		}
	}
	return r
}

// scalar is n's text (yamlpos.Scalar), "" after an error.
func (p *parser) scalar(n *yaml.Node, path string) string {
	if n = p.Scalar(n, path, "a string"); n == nil {
		return ""
	}
	return n.Value
}

// duration decodes a Go duration ("250ms", yamlpos.Duration); zero is
// allowed unless positive, and at most 24h.
func (p *parser) duration(n *yaml.Node, path string, positive bool) time.Duration {
	var d time.Duration
	before := p.ErrCount()
	p.Duration(&d)(n, path)
	switch {
	case p.ErrCount() > before:
		return 0
	case positive && d == 0:
		p.errorf(n, path, "want a positive duration, got %q", n.Value)
	case d > 24*time.Hour:
		p.errorf(n, path, "duration %q is longer than 24h", n.Value)
	}
	return d
}

// order checks the sequence of steps: exactly one activate; confirm, when
// present, first and once; fence before activate; wait-healthy and
// dns-replace after activate; dns-replace at most once; a wait-healthy
// before dns-replace.
func (p *parser) order(root *yaml.Node, pb *Playbook) {
	count := map[Kind]int{}
	act := pb.Index(Activate)
	for i, s := range pb.Steps {
		count[s.Kind]++
		n, path := root.Content[i], fmt.Sprintf("steps[%d]", i)
		switch {
		case s.Kind == Confirm && i != 0:
			p.errorf(n, path, "confirm must be the first step")
		case s.Kind == Fence && act >= 0 && i > act:
			p.errorf(n, path, "fence must come before activate")
		case (s.Kind == WaitHealthy || s.Kind == DNSReplace) && act >= 0 && i < act:
			p.errorf(n, path, "%s must come after activate", s.Kind)
		}
	}
	for _, k := range []Kind{Confirm, Fence, Activate, DNSReplace} {
		if count[k] > 1 {
			p.errorf(root, "steps", "%s appears %d times; at most once", k, count[k])
		}
	}
	if count[Activate] == 0 {
		p.errorf(root, "steps", "no activate step: a playbook must activate the standby")
	}
	p.healthBeforeDNS(root, pb)
}

// healthBeforeDNS checks that the new address is checked before clients are
// sent to it: a wait-healthy step is required, and one must come before
// dns-replace.
func (p *parser) healthBeforeDNS(root *yaml.Node, pb *Playbook) {
	wh, dns := pb.Index(WaitHealthy), pb.Index(DNSReplace)
	switch {
	case wh < 0:
		p.errorf(root, "steps", "no wait-healthy step: DNS must not point at a standby whose service check has not passed")
	case dns >= 0 && wh > dns:
		p.errorf(root.Content[wh], fmt.Sprintf("steps[%d]", wh), "wait-healthy must come before dns-replace (steps[%d])", dns)
	}
}

func kindIn(k Kind, ks []Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// errorsAs is a small helper for callers and tests that want the list.
func errorsAs(err error) (Errors, bool) {
	var es Errors
	ok := errors.As(err, &es)
	return es, ok
}
