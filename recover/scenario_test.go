package recover

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/playbooks"
)

var update = flag.Bool("update", false, "rewrite the golden scenario files in testdata/")

// t0 is the logical clock's origin in scenarios; times print as offsets.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The addresses of the tests' service: its primary, its standby and a spare.
var (
	primaryAddr = netip.MustParseAddr("10.200.0.11")
	standbyAddr = netip.MustParseAddr("10.200.1.100")
	spareAddr   = netip.MustParseAddr("10.200.2.100")
)

// TestScenarios runs every testdata/*.txt scenario. A scenario is a list of
// commands, each followed by "----" and the expected output up to a blank
// line, in the spirit of etcd-io/raft's interaction tests. Run with -update
// to rewrite the expected outputs.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScenario(t, file)
		})
	}
}

// block is one command of a scenario and its expected output.
type block struct {
	comments []string
	cmd      string
	line     int
	want     string
}

func parseScenario(t *testing.T, file string) []block {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		var b block
		for ; i < len(lines) && (strings.HasPrefix(lines[i], "#") || strings.TrimSpace(lines[i]) == ""); i++ {
			if strings.HasPrefix(lines[i], "#") {
				b.comments = append(b.comments, lines[i])
			}
		}
		if i >= len(lines) {
			break
		}
		b.cmd, b.line = lines[i], i+1
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: want ---- after the command", file, b.line)
		}
		var out []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			out = append(out, lines[i])
		}
		b.want = strings.Join(out, "\n")
		blocks = append(blocks, b)
	}
	return blocks
}

func runScenario(t *testing.T, file string) {
	blocks := parseScenario(t, file)
	h := &harness{t: t}
	var rewritten strings.Builder
	for i, b := range blocks {
		got := strings.TrimRight(h.run(b.cmd), "\n")
		if *update {
			if i > 0 {
				rewritten.WriteString("\n")
			}
			for _, c := range b.comments {
				rewritten.WriteString(c + "\n")
			}
			fmt.Fprintf(&rewritten, "%s\n----\n%s\n", b.cmd, got)
			continue
		}
		if got != b.want {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", file, b.line, b.cmd, got, b.want)
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// harness drives one Machine the way the executor does: after every event
// it persists the record to a recordStore, and "restart" rebuilds a fresh
// Machine from that store.
type harness struct {
	t     *testing.T
	cfg   Config
	m     *Machine
	store *recordStore
	now   time.Duration
}

func (h *harness) run(cmd string) string {
	name, args := splitCommand(cmd)
	if name == "service" {
		return h.service(args)
	}
	if h.m == nil {
		return "error: no service yet"
	}
	if at, ok := args["at"]; ok {
		d, err := time.ParseDuration(at)
		if err != nil {
			return "error: bad at: " + err.Error()
		}
		h.now = d
	}
	now := t0.Add(h.now)
	var acts []Action
	var err error
	switch name {
	case "trigger":
		acts, err = h.m.Step(Trigger{At: now, Source: Source(args["source"]), Reason: args["reason"]})
	case "storm":
		return h.storm(args, now)
	case "done":
		ev := StepDone{At: now, Incident: h.incident(args), Step: h.index(args), Attempt: h.attempt(args), Result: StepResult{
			Disagree: has(args, "disagree"), Frozen: has(args, "frozen"), Note: args["note"], Restored: has(args, "restored"), Fallback: args["fallback"]}}
		if a, ok := args["address"]; ok {
			ev.Result.Address = netip.MustParseAddr(a)
		}
		acts, err = h.m.Step(ev)
	case "fail":
		acts, err = h.m.Step(StepFailed{At: now, Incident: h.incident(args), Step: h.index(args), Attempt: h.attempt(args),
			Err: args["err"], Permanent: has(args, "permanent"), Unprotected: args["unprotected"]})
	case "fence-stopped":
		acts, err = h.m.Step(FenceStopped{At: now, Incident: h.incident(args), Err: args["err"]})
	case "tick":
		acts, err = h.m.Step(Tick{At: now})
	case "reset":
		acts, err = h.m.Step(Reset{At: now, Reason: args["reason"]})
	case "migrate":
		acts, err = h.m.Step(Migrate{At: now, Source: Source(args["source"]), Reason: args["reason"], To: args["to"]})
	case "failback":
		acts, err = h.m.Step(Failback{At: now, Source: Source(args["source"]), Reason: args["reason"]})
	case "on-standby":
		h.m = Restore(h.cfg, Record{State: OnStandby, Seq: 1, Placement: Placement{Service: h.cfg.Service.Name,
			Where: AtStandby, Host: h.cfg.Service.Standby, Address: netip.MustParseAddr(args["address"]), Since: now, Epoch: h.cfg.Epoch}})
	case "restart":
		acts, err = h.restart(now)
	case "record":
		return formatRecord(h.m.Record())
	default:
		return "error: unknown command " + name
	}
	if serr := h.store.Save(context.Background(), h.m.Record()); serr != nil {
		h.t.Fatalf("save: %v", serr)
	}
	h.checkHeld(cmd)
	h.checkFailoverHold(cmd)
	h.checkSize(cmd)
	return formatStep(h.m, acts, err)
}

// storm sends n triggers from source, each with a reason of size bytes,
// one millisecond apart, persisting after each as the executor does, and
// reports how big the record got.
func (h *harness) storm(args map[string]string, now time.Time) string {
	n, _ := strconv.Atoi(args["n"])
	size, _ := strconv.Atoi(args["size"])
	src := Source(args["source"])
	largest := 0
	for i := range n {
		reason := fmt.Sprintf("report %d: %s", i, strings.Repeat("x", size))
		if _, err := h.m.Step(Trigger{At: now.Add(time.Duration(i) * time.Millisecond), Source: src, Reason: reason}); err != nil {
			return fmt.Sprintf("error: report %d: %v", i, err)
		}
		if err := h.store.Save(context.Background(), h.m.Record()); err != nil {
			h.t.Fatalf("save: %v", err)
		}
		largest = max(largest, encodedSize(h.m.Record()))
		h.checkSize("storm")
	}
	h.now += time.Duration(n) * time.Millisecond
	return fmt.Sprintf("%d reports of %d bytes from %s; largest record %d bytes, under 128 KiB: %v\n%s",
		n, size, src, largest, largest < 128<<10, formatState(h.m))
}

// checkSize asserts, after every command of every scenario, that the record
// passed the size guard.
func (h *harness) checkSize(cmd string) {
	if n := encodedSize(h.m.Record()); n > MaxRecordBytes {
		h.t.Errorf("after %q: record of %d bytes, over the guard of %d", cmd, n, MaxRecordBytes)
	}
}

// checkHeld asserts, after every command of every scenario, that only a
// running migration or failback holds its service's requests: a closed or
// stuck incident never leaves the placement held.
func (h *harness) checkHeld(cmd string) {
	r := h.m.Record()
	if !r.Placement.Held {
		return
	}
	inc := r.Incident
	if !inc.Open() || r.State == Stuck || inc.Kind == KindFailover {
		h.t.Errorf("after %q: placement held while %s (incident %+v)", cmd, r.State, inc)
	}
}

// checkFailoverHold asserts, after every command of every scenario, that
// only a running failover whose DNS has not flipped holds its placement
// (FailingOver), and only a stuck incident says Unavailable.
func (h *harness) checkFailoverHold(cmd string) {
	r := h.m.Record()
	p, inc := r.Placement, r.Incident
	if p.FailingOver && (!inc.Open() || inc.Kind != KindFailover || r.State != FailingOver || p.Where != AtPrimary) {
		h.t.Errorf("after %q: placement failing over while %s at %s (incident %+v)", cmd, r.State, p.Where, inc)
	}
	if p.Unavailable != "" && (!inc.Open() || r.State == FailingOver || r.State == Primary) {
		h.t.Errorf("after %q: placement unavailable (%q) while %s (incident %+v)", cmd, p.Unavailable, r.State, inc)
	}
}

func (h *harness) service(args map[string]string) string {
	svc := Service{
		Name: "web", FQDN: "web.lab.test.", VM: "web-vm", Hypervisor: "host-a", Instance: "web-vm",
		Address: netip.MustParseAddr("10.200.0.11"), Standby: "standby-1",
		Mode: "warm", Confirm: "agent", Fence: "hypervisor",
	}
	for k, v := range args {
		switch k {
		case "name":
			svc.Name, svc.VM = v, v+"-vm"
		case "mode":
			svc.Mode = v
		case "confirm":
			svc.Confirm = v
		case "fence":
			svc.Fence = v
		case "fence-required":
			svc.FenceRequired = true
		}
	}
	pbName := svc.Mode
	if p, ok := args["playbook"]; ok {
		pbName = p
	}
	pb, err := playbooks.Default(pbName)
	if err != nil {
		pb, err = playbooks.Load(filepath.Join("testdata", "playbooks", pbName+".yaml"))
	}
	if err != nil {
		return "error: " + err.Error()
	}
	h.cfg = Config{Service: svc, Playbook: pb, Epoch: 7}
	if f, ok := args["flap"]; ok {
		n, w, _ := strings.Cut(f, "/")
		h.cfg.Flap.Max, _ = strconv.Atoi(n)
		h.cfg.Flap.Window, _ = time.ParseDuration(w)
	}
	h.m, h.store, h.now = New(h.cfg), newRecordStore(), 0
	var steps []string
	for _, s := range pb.Steps {
		steps = append(steps, string(s.Kind))
	}
	return fmt.Sprintf("%s: %s, playbook %s: %s", svc.Name, h.m.State(), pb.Name, strings.Join(steps, ", "))
}

// restart drops the machine and resumes from what the store holds.
func (h *harness) restart(now time.Time) ([]Action, error) {
	recs, err := h.store.Load(context.Background())
	if err != nil || len(recs) != 1 {
		return nil, fmt.Errorf("load: %d records, %v", len(recs), err)
	}
	h.m = Restore(h.cfg, recs[0])
	return h.m.Resume(now)
}

func (h *harness) incident(args map[string]string) string {
	if id, ok := args["incident"]; ok {
		return id
	}
	if inc := h.m.rec.Incident; inc != nil {
		return inc.ID
	}
	return ""
}

func (h *harness) index(args map[string]string) int {
	if s, ok := args["step"]; ok {
		n, _ := strconv.Atoi(s)
		return n
	}
	if inc := h.m.rec.Incident; inc != nil {
		return inc.Current
	}
	return 0
}

func (h *harness) attempt(args map[string]string) int {
	if s, ok := args["attempt"]; ok {
		n, _ := strconv.Atoi(s)
		return n
	}
	if inc := h.m.rec.Incident; inc != nil && inc.Current < len(inc.Steps) {
		return inc.Steps[inc.Current].Attempt
	}
	return 0
}

func has(args map[string]string, k string) bool { _, ok := args[k]; return ok }

// splitCommand splits `name k=v k="v w" flag` into the name and its arguments.
func splitCommand(s string) (string, map[string]string) {
	var fields []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				fields = append(fields, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		fields = append(fields, cur.String())
	}
	args := map[string]string{}
	if len(fields) == 0 {
		return "", args
	}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		args[k] = v
	}
	return fields[0], args
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

func off(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(t0).String()
}

// formatStep prints the actions an event produced and the state after it.
func formatStep(m *Machine, acts []Action, err error) string {
	var b strings.Builder
	if err != nil {
		kind := "error"
		if errors.Is(err, ErrStale) {
			kind = "stale"
		}
		fmt.Fprintf(&b, "%s: %v\n", kind, err)
	}
	for _, a := range acts {
		switch a := a.(type) {
		case RunStep:
			fmt.Fprintf(&b, "run %s step=%d attempt=%d deadline=%s", a.Step.Kind, a.Index, a.Attempt, off(a.Deadline))
			if a.Step.Kind == playbooks.Activate {
				fmt.Fprintf(&b, " epoch=%d", a.Epoch)
			}
			if a.Step.Kind == playbooks.DNSReplace || a.Step.Kind == playbooks.WaitHealthy || a.Step.Kind == StepDNSRevert {
				fmt.Fprintf(&b, " from=%s to=%s", a.From, a.To)
			}
			switch a.Step.Kind {
			case StepCopy, StepUndoCopy:
				fmt.Fprintf(&b, " from=%s to=%s", a.Origin.Host, a.Target)
			case StepResetStandby, StepVacate:
				fmt.Fprintf(&b, " on=%s/%s epoch=%d", a.Origin.Where, a.Origin.Host, a.Epoch)
			}
			if a.Resumed {
				b.WriteString(" resumed")
			}
			b.WriteString("\n")
		case Alert:
			fmt.Fprintf(&b, "alert %q\n", a.Reason)
		case StopFenced:
			fmt.Fprintf(&b, "stop-fenced %s/%s incident=%s\n", a.Hypervisor, a.Instance, a.Incident)
		}
	}
	b.WriteString(formatState(m))
	return b.String()
}

func formatState(m *Machine) string {
	r := m.Record()
	s := fmt.Sprintf("state: %s at %s %s %s", r.State, r.Placement.Where, r.Placement.Host, r.Placement.Address)
	if r.Placement.Held {
		s += " held"
	}
	inc := r.Incident
	if inc == nil {
		return s
	}
	s += " | " + inc.ID
	switch {
	case !inc.Open():
		s += " closed " + inc.Result
	case inc.Current < len(inc.Steps):
		st := inc.Steps[inc.Current]
		s += fmt.Sprintf(" step %d %s %s", inc.Current, st.Kind, st.Status)
		if st.Status == StatusBackoff {
			s += " until " + off(st.RetryAt)
		}
	}
	if inc.Stuck != "" {
		s += " | stuck: " + inc.Stuck
	}
	return s
}

// formatRecord prints the whole record of a service.
func formatRecord(r Record) string {
	var b strings.Builder
	p := r.Placement
	held := ""
	if p.Held {
		held = " held"
	}
	fmt.Fprintf(&b, "service %s %s; placement %s %s %s%s since %s epoch %d; moves %d\n", r.Service, r.State, p.Where, p.Host, p.Address, held, off(p.Since), p.Epoch, len(r.Moves))
	inc := r.Incident
	if inc == nil {
		return b.String()
	}
	fmt.Fprintf(&b, "incident %s opened %s closed %s result %q attempts %d from %s to %s\n", inc.ID, off(inc.Opened), off(inc.Closed), inc.Result, inc.Attempts, addr(inc.From), addr(inc.To))
	for _, tr := range inc.Triggers {
		fmt.Fprintf(&b, "  trigger %s %q at %s", tr.Source, clip(tr.Reason, 80), off(tr.At))
		if tr.Count > 1 {
			fmt.Fprintf(&b, " x%d last %s %q", tr.Count, off(tr.Last), clip(tr.LastReason, 80))
		}
		b.WriteString("\n")
	}
	for i, s := range inc.Steps {
		fmt.Fprintf(&b, "  step %d %s %s attempt=%d started=%s finished=%s", i, s.Kind, s.Status, s.Attempt, off(s.Started), off(s.Finished))
		if s.Error != "" {
			fmt.Fprintf(&b, " error=%q", s.Error)
		}
		if s.Note != "" {
			fmt.Fprintf(&b, " note=%q", s.Note)
		}
		b.WriteString("\n")
	}
	var ph []string
	for _, p := range inc.Phases {
		ph = append(ph, string(p.Phase)+"@"+off(p.At))
	}
	fmt.Fprintf(&b, "  phases %s\n", strings.Join(ph, " "))
	if inc.Restored || inc.Fallback != "" {
		fmt.Fprintf(&b, "  restored %v fallback %q\n", inc.Restored, inc.Fallback)
	}
	if inc.LastError != "" {
		fmt.Fprintf(&b, "  last error %q\n", inc.LastError)
	}
	if inc.Disagreed != "" {
		fmt.Fprintf(&b, "  disagreed %q\n", inc.Disagreed)
	}
	if inc.Frozen {
		b.WriteString("  frozen by the fence\n")
	}
	if inc.FenceStopFailed {
		b.WriteString("  fence-stop failed\n")
	}
	for _, w := range inc.Warnings {
		fmt.Fprintf(&b, "  warning %q\n", w)
	}
	if inc.Kind != KindFailover {
		fmt.Fprintf(&b, "  %s target %q origin %s %s %s\n", inc.Kind, inc.Target, inc.Origin.Where, inc.Origin.Host, inc.Origin.Address)
	}
	if inc.Aborted != "" {
		fmt.Fprintf(&b, "  aborted %q\n", inc.Aborted)
	}
	if inc.ResetRefused != "" {
		fmt.Fprintf(&b, "  reset refused %q\n", inc.ResetRefused)
	}
	return b.String()
}
