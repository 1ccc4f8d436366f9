package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
)

// Exit codes of migrate and failback besides 0 (done) and 2 (usage); 3
// (exitRefused, shared with drill) when the monitor refused: unknown
// service, wrong state, no eligible spare, migration limit reached.
const exitFailed = 1 // the monitor failed, or the move did not end where asked

// moveFlags are the flags migrate and failback share.
type moveFlags struct {
	fs      *flag.FlagSet
	file    *string
	url     *string
	service *string
	reason  *string
	wait    *time.Duration
	tls     apiTLSFlags
}

// newMoveFlags defines the shared flags of command name, whose usage line
// and one-line description are usage and about.
func newMoveFlags(name, usage, about string, stderr io.Writer) moveFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	setOutput(fs, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: "+usage)
		fmt.Fprintln(stderr, about)
		fmt.Fprintln(stderr, "Exit codes: 0 done, 1 failed, 2 usage, 3 refused by the monitor.")
		fs.PrintDefaults()
	}
	return moveFlags{
		fs:      fs,
		file:    fs.String("f", "", "inventory `FILE`: the monitor is asked at monitor.listen"),
		url:     fs.String("url", "", "monitor base `URL` (instead of monitor.listen of -f)"),
		service: fs.String("service", "", "the service `NAME`"),
		reason:  fs.String("reason", "", "why, recorded in the incident"),
		wait:    fs.Duration("wait", 2*time.Minute, "how long to wait for the move to end (0: return once the monitor took it)"),
		tls:     addAPITLSFlags(fs),
	}
}

// parse parses args and returns the client of the monitor's API.
func (m moveFlags) parse(args []string, stderr io.Writer) (*monitorapi.Client, error) {
	if err := m.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, withCode(2, errReported)
	}
	if (*m.file == "") == (*m.url == "") || *m.service == "" || m.fs.NArg() > 0 {
		m.fs.Usage()
		return nil, withCode(2, errReported)
	}
	var inv *inventory.Inventory
	if *m.file != "" {
		var err error
		if inv, err = loadInventory(*m.file, stderr); err != nil {
			return nil, err
		}
	}
	return monitorAPI(*m.url, inv, m.tls)
}

// start parses args and returns the monitor's client and the ID of the
// service's last incident, so that waitMove knows the move's own. After -h
// it returns flag.ErrHelp (see helpOK).
func (m moveFlags) start(ctx context.Context, args []string, stderr io.Writer) (*monitorapi.Client, string, error) {
	cl, err := m.parse(args, stderr)
	if err != nil {
		return nil, "", err
	}
	before, err := cl.LastIncidentID(ctx, *m.service)
	if err != nil {
		return nil, "", withCode(exitFailed, err)
	}
	return cl, before, nil
}

// runMigrate moves a service from its standby to a spare:
// `understudy migrate -f inv.yaml --service NAME [--to SPARE] [--dry-run]`.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	m := newMoveFlags("migrate", "understudy migrate -f FILE --service NAME [--to SPARE] [--dry-run]",
		"Moves a service from the shared standby VM to a dedicated spare VM.", stderr)
	to := m.fs.String("to", "", "the `SPARE` to move to (default: the best one)")
	dry := m.fs.Bool("dry-run", false, "print the scored spares and why each lost; move nothing")
	cl, before, err := m.start(ctx, args, stderr)
	if err != nil {
		return helpOK(err)
	}
	body, _ := json.Marshal(api.MigrateRequest{To: *to, DryRun: *dry, Reason: *m.reason})
	var res api.MigrateResponse
	code, err := cl.PostAnswer(ctx, "/v1/services/"+*m.service+"/migrate", body, &res)
	if err != nil {
		return withCode(exitFailed, err)
	}
	if len(res.Candidates) > 0 {
		monitorapi.PrintCandidates(stdout, res)
	}
	if err := refusal(code, res.Error); err != nil {
		return err
	}
	if *dry {
		return nil
	}
	fmt.Fprintf(stdout, "migrating %s to %s\n", *m.service, res.To)
	return waitMove(ctx, stdout, cl, *m.service, before, *m.wait, "migrated")
}

// helpOK turns -h into success.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// refusal maps a monitor's answer to an exit code: 2xx is none.
func refusal(code int, msg string) error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusNotFound || code == http.StatusConflict || code == http.StatusServiceUnavailable:
		return withCode(exitRefused, fmt.Errorf("refused (%d): %s", code, msg))
	default:
		return withCode(exitFailed, fmt.Errorf("monitor answered %d: %s", code, msg))
	}
}

// waitMove waits for the move to end (monitorapi's WaitMove); a move that
// failed or did not end in time is exit 1.
func waitMove(ctx context.Context, w io.Writer, cl *monitorapi.Client, service, before string, wait time.Duration, want string) error {
	if err := cl.WaitMove(ctx, w, service, before, wait, want); err != nil {
		return withCode(exitFailed, err)
	}
	return nil
}
