package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Benchmark is every run (-count) of one benchmark.
type Benchmark struct {
	Package    string          `json:"package"`
	Name       string          `json:"name"`
	Iterations []int           `json:"iterations"`
	Metrics    map[string]Stat `json:"metrics"` // by unit: ns/op and every ReportMetric
	values     map[string][]float64
	units      []string
}

// Table is a per-iteration table a benchmark printed ("warm failover, 10
// runs (ms):", a header line, one line per iteration, then "med"): each
// column summarized over every iteration of every run.
type Table struct {
	Package string          `json:"package"`
	Title   string          `json:"title"`
	Columns []string        `json:"columns"`
	Stats   map[string]Stat `json:"stats"`
	Rows    int             `json:"rows"`
	values  map[string][]float64
}

var (
	resultLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+ ns/op.*)$`)
	tableTitle = regexp.MustCompile(`^(.+), \d+ runs \(ms\):$`)
)

// event is one line of `go test -json`.
type event struct {
	Action  string
	Package string
	Output  string
}

// parseGoTest reads a `go test -json` stream and returns its benchmarks
// and tables in the order they first appear, and the failed packages.
func parseGoTest(r io.Reader) ([]*Benchmark, []*Table, []string, error) {
	var (
		benches []*Benchmark
		tables  []*Table
		failed  []string
		byName  = map[string]*Benchmark{}
		byTitle = map[string]*Table{}
		pending = map[string]string{} // package -> partial output line
		open    = map[string]*tableState{}
	)
	dec := json.NewDecoder(r)
	for {
		var ev event
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, nil, fmt.Errorf("read go test -json: %w", err)
		}
		if ev.Action == "fail" && ev.Package != "" && !slices.Contains(failed, ev.Package) {
			failed = append(failed, ev.Package)
		}
		if ev.Action != "output" {
			continue
		}
		text := pending[ev.Package] + ev.Output
		lines := strings.Split(text, "\n")
		pending[ev.Package] = lines[len(lines)-1]
		for _, line := range lines[:len(lines)-1] {
			if st := open[ev.Package]; st != nil {
				if !st.add(line) {
					delete(open, ev.Package)
				}
				continue
			}
			if m := tableTitle.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				key := ev.Package + "\x00" + m[1]
				t := byTitle[key]
				if t == nil {
					t = &Table{Package: ev.Package, Title: m[1], Stats: map[string]Stat{}, values: map[string][]float64{}}
					byTitle[key] = t
					tables = append(tables, t)
				}
				open[ev.Package] = &tableState{t: t}
				continue
			}
			m := resultLine.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				continue
			}
			key := ev.Package + "\x00" + m[1]
			b := byName[key]
			if b == nil {
				b = &Benchmark{Package: ev.Package, Name: m[1], values: map[string][]float64{}}
				byName[key] = b
				benches = append(benches, b)
			}
			n, _ := strconv.Atoi(m[2])
			b.Iterations = append(b.Iterations, n)
			f := strings.Fields(m[3])
			for i := 0; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				if _, seen := b.values[f[i+1]]; !seen {
					b.units = append(b.units, f[i+1])
				}
				b.values[f[i+1]] = append(b.values[f[i+1]], v)
			}
		}
	}
	for _, b := range benches {
		b.Metrics = map[string]Stat{}
		for u, v := range b.values {
			b.Metrics[u] = newStat(v)
		}
	}
	for _, t := range tables {
		for c, v := range t.values {
			t.Stats[c] = newStat(v)
		}
	}
	return benches, tables, failed, nil
}

// tableState reads one printed table.
type tableState struct {
	t      *Table
	header bool
}

// add takes one line of the table and reports whether the table goes on.
func (s *tableState) add(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 || f[0] == "med" {
		return false
	}
	if !s.header {
		s.header = true
		if len(s.t.Columns) == 0 {
			s.t.Columns = f[1:]
		}
		return true
	}
	if _, err := strconv.Atoi(f[0]); err != nil || len(f)-1 != len(s.t.Columns) {
		return false
	}
	for i, c := range s.t.Columns {
		if v, err := strconv.ParseFloat(f[i+1], 64); err == nil {
			s.t.values[c] = append(s.t.values[c], v)
		}
	}
	s.t.Rows++
	return true
}
