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
	m := newMoveFlags("failback", "understudy failback -f FILE --service NAME",
		"Moves a service back to its primary once the primary's service answers.", stderr)
	cl, before, err := m.start(ctx, args, stderr)
	if err != nil {
		return helpOK(err)
	}
	body, _ := json.Marshal(map[string]string{"reason": *m.reason})
	var res failbackAnswer
	code, err := cl.PostAnswer(ctx, "/v1/services/"+*m.service+"/failback", body, &res)
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
