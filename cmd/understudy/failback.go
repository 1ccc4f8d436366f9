package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/understudy/understudy/monitor/api"
)

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
	// The answer is an api.TriggerResponse or an api.Error; both carry the
	// service's "state", and only a refusal has "error".
	var res api.Error
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
