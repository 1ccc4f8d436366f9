// Command layout measures the shape of the module's code: per package, its
// lines of non-test Go, its files, and its largest type (by method count,
// with the fields of a struct); and for the incident core, the packages
// `go list -deps` reports. bench/layout.sh runs it on two revisions side by
// side and writes bench/results/layout.{json,md}.
//
//	go run ./bench/layout -dir DIR -core recover > out.json
//	go run ./bench/layout -compare BEFORE.json AFTER.json -revs REV1,REV2 > table.md
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Package is one package's figures.
type Package struct {
	Path      string `json:"path"`
	Files     int    `json:"files"`
	Lines     int    `json:"lines"`
	Largest   string `json:"largest_type,omitempty"`
	Methods   int    `json:"largest_type_methods"`
	Fields    int    `json:"largest_type_fields"`
	TypeCount int    `json:"types"`
}

// Report is what one revision measures.
type Report struct {
	Dir         string    `json:"dir"`
	Packages    []Package `json:"packages"`
	Core        string    `json:"core"`
	CoreDeps    int       `json:"core_deps"`
	CoreNonStd  []string  `json:"core_non_std_deps"`
	CoreImports []string  `json:"core_forbidden,omitempty"`
}

func main() {
	dir := flag.String("dir", ".", "the module's root")
	core := flag.String("core", "recover", "the incident core's package directory")
	cmp := flag.Bool("compare", false, "print a markdown table of two reports given as arguments")
	revs := flag.String("revs", "before,after", "the two revisions' names, for -compare")
	flag.Parse()
	if *cmp {
		r := strings.SplitN(*revs+",", ",", 3)
		if flag.NArg() != 2 {
			fmt.Fprintln(os.Stderr, "layout: -compare takes two report files")
			os.Exit(2)
		}
		if err := compare(os.Stdout, flag.Arg(0), flag.Arg(1), r[0], r[1]); err != nil {
			fmt.Fprintln(os.Stderr, "layout:", err)
			os.Exit(1)
		}
		return
	}
	rep, err := measure(*dir, *core)
	if err != nil {
		fmt.Fprintln(os.Stderr, "layout:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "layout:", err)
		os.Exit(1)
	}
}

func measure(dir, core string) (Report, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Report{}, fmt.Errorf("resolve %s: %w", dir, err)
	}
	rep := Report{Dir: dir, Core: core}
	pkgs, err := goList(dir, "-f", "{{.Dir}}", "./...")
	if err != nil {
		return rep, err
	}
	for _, d := range pkgs {
		p, err := measurePackage(d)
		if err != nil {
			return rep, err
		}
		rel, _ := filepath.Rel(dir, d)
		p.Path = filepath.ToSlash(rel)
		rep.Packages = append(rep.Packages, p)
	}
	sort.Slice(rep.Packages, func(i, j int) bool { return rep.Packages[i].Lines > rep.Packages[j].Lines })
	deps, err := goList(dir, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./"+core)
	if err != nil {
		return rep, err
	}
	all, err := goList(dir, "-deps", "-f", "{{.ImportPath}}", "./"+core)
	if err != nil {
		return rep, err
	}
	rep.CoreDeps = len(all)
	for _, d := range deps {
		if d == "" {
			continue
		}
		rep.CoreNonStd = append(rep.CoreNonStd, d)
		for _, bad := range []string{"etcd", "incus", "lxd", "miekg", "grpc", "prometheus"} {
			if strings.Contains(d, bad) {
				rep.CoreImports = append(rep.CoreImports, d)
			}
		}
	}
	for _, d := range all {
		for _, bad := range []string{"net", "net/http", "os/exec"} {
			if d == bad {
				rep.CoreImports = append(rep.CoreImports, d)
			}
		}
	}
	rep.CoreImports = unique(rep.CoreImports)
	return rep, nil
}

func unique(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func goList(dir string, args ...string) ([]string, error) {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("run go list %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}
