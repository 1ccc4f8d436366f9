// Command summarize turns the raw output of a benchmark run into the files
// under bench/results: NAME.json (every value, with the date, nproc and the
// command) and NAME.md (median and min–max of each). bench/run.sh calls it;
// it measures nothing itself.
//
//	go run ./bench/summarize -name NAME -cmd 'COMMAND' -gotest RAW.json [-drills DIR] -out bench/results
//
// -started, -finished, -load and -load-end re-summarize an earlier run.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Summary is NAME.json.
type Summary struct {
	Name        string       `json:"name"`
	Command     string       `json:"command"`
	Started     string       `json:"started"`
	Finished    string       `json:"finished"`
	NProc       int          `json:"nproc"`
	Go          string       `json:"go"`
	LoadStart   string       `json:"loadavg_start,omitempty"`
	LoadEnd     string       `json:"loadavg_end,omitempty"`
	Raw         string       `json:"raw,omitempty"` // the go test -json stream, next to this file
	Failed      []string     `json:"failed_packages,omitempty"`
	Benchmarks  []*Benchmark `json:"benchmarks,omitempty"`
	Tables      []*Table     `json:"tables,omitempty"`
	Drills      []*DrillKind `json:"drills,omitempty"`
	DrillSets   []*DrillSet  `json:"drill_sets,omitempty"` // fence steps of all kinds together
	DrillSource string       `json:"drill_reports,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "summarize:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("summarize", flag.ContinueOnError)
	name := fs.String("name", "", "the result's name: OUT/NAME.json and OUT/NAME.md")
	cmd := fs.String("cmd", "", "the command that produced the raw results, as a reader would type it")
	goTest := fs.String("gotest", "", "a `go test -json` stream with benchmark results")
	drills := fs.String("drills", "", "a directory of drill JSON reports (drill-*.json, any depth)")
	hostDrills := fs.String("hostdrills", "", "a directory of host drill JSON reports (host-*.json, any depth)")
	out := fs.String("out", "bench/results", "the results directory")
	started := fs.String("started", "", "when the run started (RFC 3339; default now)")
	load := fs.String("load", "", "the load average when the run started")
	loadEnd := fs.String("load-end", "", "the load average when the run finished (default: now)")
	finished := fs.String("finished", "", "when the run finished (RFC 3339; default now, when the summary is written)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || (*goTest == "" && *drills == "" && *hostDrills == "") {
		return errors.New("want -name and at least one of -gotest, -drills, -hostdrills")
	}
	now := time.Now().UTC().Format(time.RFC3339)
	s := Summary{Name: *name, Command: *cmd, Started: *started, Finished: now, NProc: runtime.NumCPU(),
		Go: runtime.Version(), LoadStart: *load, LoadEnd: loadAvg()}
	if s.Started == "" {
		s.Started = now
	}
	if *finished != "" {
		s.Finished = *finished
	}
	if *loadEnd != "" {
		s.LoadEnd = *loadEnd
	}
	if *goTest != "" {
		f, err := os.Open(*goTest)
		if err != nil {
			return err
		}
		defer f.Close()
		s.Benchmarks, s.Tables, s.Failed, err = parseGoTest(f)
		if err != nil {
			return err
		}
		s.Raw = filepath.Base(*goTest)
	}
	if *drills != "" {
		var err error
		if s.Drills, s.DrillSets, err = parseDrills(*drills); err != nil {
			return err
		}
		s.DrillSource = *drills
	}
	if *hostDrills != "" {
		t, err := parseHostDrills(*hostDrills)
		if err != nil {
			return err
		}
		s.Tables = append(s.Tables, t...)
		s.DrillSource = *hostDrills
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, *name+".json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	writeMarkdown(&md, s)
	if err := os.WriteFile(filepath.Join(*out, *name+".md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	_, err = io.WriteString(stdout, md.String())
	return err
}

// loadAvg is /proc/loadavg's first three fields, "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
