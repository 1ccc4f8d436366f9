package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// failbackAnswer is the monitor's answer to a failback request (a
// controller.TriggerResponse, or an error).
type failbackAnswer struct {
	State string `json:"state"`
	Error string `json:"error"`
}

// runFailback moves a service from the standby or a spare back to its
// primary: `understudy failback -f inv.yaml --service NAME`.
func runFailback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	m := newMoveFlags("failback", stderr)
	m.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy failback -f FILE --service NAME")
		fmt.Fprintln(stderr, "Moves a service back to its primary once the primary's service answers.")
		fmt.Fprintln(stderr, "Exit codes: 0 done, 1 failed, 2 usage, 3 refused by the monitor.")
		m.fs.PrintDefaults()
	}
	cl, err := m.parse(args, stderr)
	if err != nil {
		return helpOK(err)
	}
	before, err := lastIncidentID(ctx, cl, *m.service)
	if err != nil {
		return withCode(exitFailed, err)
	}
	body, _ := json.Marshal(map[string]string{"reason": *m.reason})
	var res failbackAnswer
	code, err := postMonitor(ctx, cl, "/v1/services/"+*m.service+"/failback", body, &res)
	if err != nil {
		return withCode(exitFailed, err)
	}
	msg := res.Error
	if res.State != "" {
		msg += " (state " + res.State + ")"
	}
	if err := refusal(code, msg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "failing back %s\n", *m.service)
	return waitMove(ctx, stdout, cl, *m.service, before, *m.wait, "failed-back")
}
