package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/understudy/understudy/monitor/statuspage"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// handler is the HTTP API; README.md is its reference.
func (c *Controller) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", c.healthz)
	mux.HandleFunc("GET /v1/status", c.getStatus)
	mux.HandleFunc("GET /v1/placements", c.placements)
	mux.HandleFunc("POST /v1/services/{name}/suspect", c.postSuspect)
	mux.HandleFunc("POST /v1/services/{name}/failover", c.postTrigger(recover.FromCLI))
	// The operator puts a service back on its primary, as executor steps:
	// the primary's check, DNS swapped back (compare-and-swap from the
	// standby's address), the standby container back to its prepared state.
	mux.HandleFunc("POST /v1/services/{name}/reset", c.postAction("", "reset by an operator", 30*time.Second, c.Reset))
	c.moveRoutes(mux)
	statuspage.Mount(mux, c.opts.Drills) // the read-only page at / (GET only: the API's rules above apply)
	return c.authorize(c.leaderOnly(mux))
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
	State string `json:"state,omitempty"` // the service's state, when it refused
}

// TriggerResponse is the body of a successful suspect, failover or reset.
type TriggerResponse struct {
	Service string `json:"service"`
	Source  string `json:"source,omitempty"`
	State   string `json:"state"`
	// Coalesced is set on a suspect report that arrived within
	// suspectWindow of the previous one and was not passed on.
	Coalesced bool `json:"coalesced,omitempty"`
}

// suspectWindow is how long after a suspect report further reports about
// the same service are answered without reaching the executor: a proxy whose
// requests all fail reports on every request, and each report that joins an
// incident is a write to the store.
const suspectWindow = time.Second

// postSuspect is the proxy's fast-path report, coalesced per service.
func (c *Controller) postSuspect(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := c.plan().services[name]; !ok {
		c.answer(w, name, string(recover.FromProxy), fmt.Errorf("service %q: %w", name, executor.ErrUnknownService))
		return
	}
	var req suspectRequest
	if err := decodeBody(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	now := time.Now()
	c.mu.RLock()
	last, seen := c.suspects[name]
	c.mu.RUnlock()
	fresh := !seen || now.Sub(last) >= suspectWindow
	src := recover.FromProxy
	if r.Header.Get(vantageHeader) != "" { // a follower's monitor confirmed it (authorize checked its certificate)
		src = recover.FromMonitor
	}
	if !fresh {
		writeJSON(w, http.StatusAccepted, TriggerResponse{Service: name, Source: string(src), State: c.stateOf(name), Coalesced: true})
		return
	}
	reason := req.Reason
	if reason == "" {
		reason = string(src) + " request from " + r.RemoteAddr
	}
	if req.Address != "" {
		reason += " (backend " + req.Address + ")"
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := c.trigger(ctx, name, src, reason)
	switch {
	case err == nil: // only a report the executor took opens the window
		c.mu.Lock()
		c.suspects[name] = now
		c.mu.Unlock()
	case errors.Is(err, errNoLeader): // the term ended under the trigger
		c.keepSuspect(r, "whose monitor stopped leading under it")
	}
	c.answer(w, name, string(src), err)
}

// suspectRequest is the optional body of suspect: the proxy also names the
// backend address it found down (proxy.SuspectReport).
type suspectRequest struct {
	Reason  string `json:"reason"`
	Address string `json:"address,omitempty"`
}

// triggerRequest is the optional body of failover, reset and failback (and
// of a follower's suspect report).
type triggerRequest struct {
	Reason string `json:"reason"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *Controller) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "epoch": c.epoch(), "monitor": c.name, "leader": c.leading() != nil})
}

// getStatus answers with this monitor's status. A follower passes on the
// leader's, which also knows what it prepared on the agents, and falls back
// to its own (from the store) when the leader cannot answer.
func (c *Controller) getStatus(w http.ResponseWriter, r *http.Request) {
	if c.leading() == nil && r.Header.Get(forwardedHeader) == "" {
		if st, err := c.leaderStatus(r.Context()); err == nil {
			st.Monitor = c.name
			writeJSON(w, http.StatusOK, st)
			return
		} else if !errors.Is(err, errNoLeader) {
			c.log.Debug("leader's status unavailable; answering from the store", "err", err)
		}
	}
	writeJSON(w, http.StatusOK, c.Status(r.Context()))
}

// maxBody bounds a request body the API reads.
const maxBody = 64 << 10

// decodeBody decodes the optional JSON body of r into v, strictly: one
// JSON value of at most maxBody bytes whose fields v knows (a misspelt
// field such as "dryrun" is an error naming it, not a silent default). An
// empty body leaves v as it is. Every body the API reads goes through it.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("read body: larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	if dec.More() {
		return errors.New("decode body: more than one JSON value")
	}
	return nil
}

// readReason reads the optional JSON body {"reason": "..."}.
func readReason(r *http.Request, def string) (string, error) {
	var req triggerRequest
	if err := decodeBody(r, &req); err != nil {
		return "", err
	}
	if req.Reason == "" {
		return def, nil
	}
	return req.Reason, nil
}

// postTrigger handles failover (cli): the trigger opens
// or joins the service's incident; 202 once the executor took it.
func (c *Controller) postTrigger(src recover.Source) http.HandlerFunc {
	return c.postAction(string(src), string(src)+" request", 10*time.Second,
		func(ctx context.Context, name, reason string) error { return c.trigger(ctx, name, src, reason) })
}

// postAction serves a POST on a service whose optional body is
// {"reason": "..."} (by default what, from the caller's address): it runs
// act within timeout and answers with answer, naming src.
func (c *Controller) postAction(src, what string, timeout time.Duration, act func(ctx context.Context, name, reason string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		reason, err := readReason(r, what+" from "+r.RemoteAddr)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		c.answer(w, name, src, act(ctx, name, reason))
	}
}

// answer maps an executor error to a status code.
func (c *Controller) answer(w http.ResponseWriter, name, src string, err error) {
	state := c.stateOf(name)
	switch {
	case err == nil:
		writeJSON(w, http.StatusAccepted, TriggerResponse{Service: name, Source: src, State: state})
	case errors.Is(err, executor.ErrUnknownService):
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
	case errors.Is(err, recover.ErrIllegalTransition), errors.Is(err, recover.ErrPrimaryUnhealthy), errors.Is(err, recover.ErrDamped), errors.Is(err, executor.ErrStuck):
		writeJSON(w, http.StatusConflict, apiError{Error: err.Error(), State: state})
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusGatewayTimeout, apiError{Error: err.Error(), State: state})
	case errors.Is(err, errNoLeader), errors.Is(err, store.ErrFenced), errors.Is(err, executor.ErrStopped): // the leadership ended under the call
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error(), State: state})
	default:
		writeJSON(w, http.StatusInternalServerError, apiError{Error: err.Error(), State: state})
	}
}

// stateOf returns a service's state name, "" when unknown.
func (c *Controller) stateOf(name string) string {
	e := c.exec()
	if e == nil {
		return ""
	}
	for _, r := range e.Records() {
		if r.Service == name {
			return r.State.String()
		}
	}
	return ""
}

// Reset puts a service back on its primary (see POST /v1/services/{name}/reset).
// It is an executor step (recover's Reset): the primary's check first (an
// unhealthy primary refuses it with recover.ErrPrimaryUnhealthy), then the
// DNS swap back and the standby slot's reset, run on the executor's context
// behind the store's leader-guarded writes, never on this request's. It
// waits for the reset to end, or ctx (the reset goes on without it).
func (c *Controller) Reset(ctx context.Context, name, reason string) error {
	if !c.running() {
		return errNotRunning
	}
	t, err := c.leaderTerm()
	if err != nil {
		return err
	}
	if _, ok := c.plan().services[name]; !ok {
		return fmt.Errorf("service %q: %w", name, executor.ErrUnknownService)
	}
	if err := t.exec.Reset(ctx, name, reason); err != nil {
		return err
	}
	t.prepare.forget(name)
	c.log.Info("service reset to its primary", "service", name, "reason", reason)
	return nil
}
