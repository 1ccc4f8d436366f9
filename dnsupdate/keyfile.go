package dnsupdate

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// ParseKey parses the text of a BIND key file holding exactly one key
// statement. The algorithm defaults to hmac-sha256; comments (#, //, /* */)
// are allowed. Errors give the line and never quote the secret.
func ParseKey(data []byte) (*Key, error) {
	p := &keyParser{lx: lexer{src: string(data), line: 1}}
	k, err := p.file()
	if err != nil {
		return nil, &dnsError{kind: ErrInvalid, msg: "parse TSIG key: " + err.Error()}
	}
	return k, nil
}

type keyParser struct{ lx lexer }

// file := "key" NAME "{" clauses "}" ";"  (exactly once)
func (p *keyParser) file() (*Key, error) {
	t, err := p.lx.next()
	if err != nil {
		return nil, err
	}
	if t.kind == tokEOF {
		return nil, fmt.Errorf("no key statement found")
	}
	if t.kind != tokWord || t.text != "key" {
		return nil, fmt.Errorf("line %d: expected a key statement (key \"name\" { ... };)", t.line)
	}
	name, err := p.lx.next()
	if err != nil {
		return nil, err
	}
	if name.kind != tokWord && name.kind != tokString {
		return nil, fmt.Errorf("line %d: expected the key name after \"key\"", name.line)
	}
	if err := p.expect(tokOpen, "\"{\" after the key name"); err != nil {
		return nil, err
	}
	alg, secret, err := p.clauses()
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokSemi, "\";\" after the closing \"}\""); err != nil {
		return nil, err
	}
	if t, err := p.lx.next(); err != nil {
		return nil, err
	} else if t.kind != tokEOF {
		return nil, fmt.Errorf("line %d: the file holds more than one statement; understudy needs a file with exactly one key", t.line)
	}
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("key %q: the secret is not valid base64", name.text)
	}
	return NewKey(name.text, alg, raw)
}

// clauses reads "algorithm X;" and "secret "...";" up to the closing brace.
func (p *keyParser) clauses() (alg, secret string, err error) {
	var haveAlg, haveSecret bool
	for {
		t, err := p.lx.next()
		if err != nil {
			return "", "", err
		}
		switch {
		case t.kind == tokClose:
			if !haveSecret {
				return "", "", fmt.Errorf("line %d: the key has no secret", t.line)
			}
			return alg, secret, nil
		case t.kind == tokWord && t.text == "algorithm":
			if haveAlg {
				return "", "", fmt.Errorf("line %d: algorithm given twice", t.line)
			}
			v, err := p.value("algorithm")
			if err != nil {
				return "", "", err
			}
			alg, haveAlg = v, true
		case t.kind == tokWord && t.text == "secret":
			if haveSecret {
				return "", "", fmt.Errorf("line %d: secret given twice", t.line)
			}
			v, err := p.value("secret")
			if err != nil {
				return "", "", err
			}
			secret, haveSecret = v, true
		case t.kind == tokEOF:
			return "", "", fmt.Errorf("line %d: unexpected end of file inside the key statement", t.line)
		default:
			// The token is not quoted: it could be part of a secret.
			return "", "", fmt.Errorf("line %d: unexpected token inside the key statement (only algorithm and secret are allowed)", t.line)
		}
	}
}

// value reads one word or string followed by ";".
func (p *keyParser) value(what string) (string, error) {
	t, err := p.lx.next()
	if err != nil {
		return "", err
	}
	if t.kind != tokWord && t.kind != tokString {
		return "", fmt.Errorf("line %d: expected a value after %s", t.line, what)
	}
	if err := p.expect(tokSemi, "\";\" after the "+what); err != nil {
		return "", err
	}
	return strings.TrimSpace(t.text), nil
}

func (p *keyParser) expect(kind tokKind, what string) error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	if t.kind != kind {
		return fmt.Errorf("line %d: expected %s", t.line, what)
	}
	return nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokOpen
	tokClose
	tokSemi
)

type token struct {
	kind tokKind
	text string
	line int
}

// lexer splits a BIND configuration fragment into tokens, skipping comments.
type lexer struct {
	src  string
	pos  int
	line int
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpaceAndComments(); err != nil {
		return token{}, err
	}
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, line: l.line}, nil
	}
	line := l.line
	switch c := l.src[l.pos]; c {
	case '{':
		l.pos++
		return token{kind: tokOpen, line: line}, nil
	case '}':
		l.pos++
		return token{kind: tokClose, line: line}, nil
	case ';':
		l.pos++
		return token{kind: tokSemi, line: line}, nil
	case '"':
		end := strings.IndexByte(l.src[l.pos+1:], '"')
		if end < 0 {
			return token{}, fmt.Errorf("line %d: unterminated quoted string", line)
		}
		text := l.src[l.pos+1 : l.pos+1+end]
		l.line += strings.Count(text, "\n")
		l.pos += end + 2
		return token{kind: tokString, text: text, line: line}, nil
	}
	start := l.pos
	for l.pos < len(l.src) && !strings.ContainsRune(" \t\r\n{};\"#", rune(l.src[l.pos])) &&
		!strings.HasPrefix(l.src[l.pos:], "//") && !strings.HasPrefix(l.src[l.pos:], "/*") {
		l.pos++
	}
	return token{kind: tokWord, text: l.src[start:l.pos], line: line}, nil
}

func (l *lexer) skipSpaceAndComments() error {
	for l.pos < len(l.src) {
		rest := l.src[l.pos:]
		switch {
		case rest[0] == '\n':
			l.line++
			l.pos++
		case rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r':
			l.pos++
		case rest[0] == '#' || strings.HasPrefix(rest, "//"):
			end := strings.IndexByte(rest, '\n')
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end
			}
		case strings.HasPrefix(rest, "/*"):
			end := strings.Index(rest[2:], "*/")
			if end < 0 {
				return fmt.Errorf("line %d: unterminated comment", l.line)
			}
			l.line += strings.Count(rest[:end+2], "\n")
			l.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}
