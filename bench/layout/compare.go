package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// compare prints a markdown table of two reports side by side: each
// package's lines and largest type, then the core's dependencies.
func compare(w io.Writer, beforeFile, afterFile, beforeRev, afterRev string) error {
	var b, a Report
	for _, x := range []struct {
		file string
		r    *Report
	}{{beforeFile, &b}, {afterFile, &a}} {
		raw, err := os.ReadFile(x.file)
		if err != nil {
			return fmt.Errorf("read %s: %w", x.file, err)
		}
		if err := json.Unmarshal(raw, x.r); err != nil {
			return fmt.Errorf("decode %s: %w", x.file, err)
		}
	}
	fmt.Fprintf(w, "| | before (`%s`) | after (`%s`) |\n|---|---:|---:|\n", beforeRev, afterRev)
	fmt.Fprintf(w, "| packages | %d | %d |\n", len(b.Packages), len(a.Packages))
	fmt.Fprintf(w, "| largest package (non-test lines) | %s | %s |\n", largest(b), largest(a))
	fmt.Fprintf(w, "| packages over 2,000 lines | %d | %d |\n", over(b, 2000), over(a, 2000))
	fmt.Fprintf(w, "| largest type (methods, fields) | %s | %s |\n", biggestType(b), biggestType(a))
	fmt.Fprintf(w, "| `go list -deps ./%s` (all, not standard library) | %d, %d | %d, %d |\n",
		a.Core, b.CoreDeps, len(b.CoreNonStd), a.CoreDeps, len(a.CoreNonStd))
	fmt.Fprintf(w, "| the core's network, etcd, Incus, exec or metrics packages | %d | %d |\n\n", len(b.CoreImports), len(a.CoreImports))
	fmt.Fprintf(w, "| package | lines before | lines after | largest type after (methods) |\n|---|---:|---:|---|\n")
	paths := map[string][2]*Package{}
	for i := range b.Packages {
		p := paths[b.Packages[i].Path]
		p[0] = &b.Packages[i]
		paths[b.Packages[i].Path] = p
	}
	for i := range a.Packages {
		p := paths[a.Packages[i].Path]
		p[1] = &a.Packages[i]
		paths[a.Packages[i].Path] = p
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := paths[k]
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", k, lines(p[0]), lines(p[1]), typeOf(p[1]))
	}
	return nil
}

func lines(p *Package) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprint(p.Lines)
}

func typeOf(p *Package) string {
	if p == nil || p.Largest == "" {
		return "–"
	}
	return fmt.Sprintf("`%s` (%d)", p.Largest, p.Methods)
}

func largest(r Report) string {
	if len(r.Packages) == 0 {
		return "–"
	}
	return fmt.Sprintf("`%s` %d", r.Packages[0].Path, r.Packages[0].Lines)
}

func over(r Report, n int) int {
	c := 0
	for _, p := range r.Packages {
		if p.Lines > n {
			c++
		}
	}
	return c
}

func biggestType(r Report) string {
	var best *Package
	for i := range r.Packages {
		if best == nil || r.Packages[i].Methods > best.Methods {
			best = &r.Packages[i]
		}
	}
	if best == nil {
		return "–"
	}
	return fmt.Sprintf("`%s.%s` (%d, %d)", best.Path, best.Largest, best.Methods, best.Fields)
}
