package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

// measurePackage counts the lines of a directory's non-test Go files and
// finds its type with the most methods.
func measurePackage(dir string) (Package, error) {
	var p Package
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return p, fmt.Errorf("list %s: %w", dir, err)
	}
	fset := token.NewFileSet()
	methods := map[string]int{}
	fields := map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return p, fmt.Errorf("read %s: %w", f, err)
		}
		p.Files++
		p.Lines += bytes.Count(src, []byte("\n"))
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			return p, fmt.Errorf("parse %s: %w", f, err)
		}
		collect(af, methods, fields)
	}
	p.TypeCount = len(fields)
	for name, n := range methods {
		if n > p.Methods || (n == p.Methods && name < p.Largest) {
			p.Largest, p.Methods = name, n
		}
	}
	p.Fields = fields[p.Largest]
	return p, nil
}

func collect(af *ast.File, methods, fields map[string]int) {
	for _, decl := range af.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil && len(d.Recv.List) == 1 {
				methods[recvName(d.Recv.List[0].Type)]++
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				ts, ok := s.(*ast.TypeSpec)
				if !ok {
					continue
				}
				n := 0
				if st, ok := ts.Type.(*ast.StructType); ok {
					for _, f := range st.Fields.List {
						n += max(len(f.Names), 1)
					}
				}
				fields[ts.Name.Name] = n
			}
		}
	}
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}
