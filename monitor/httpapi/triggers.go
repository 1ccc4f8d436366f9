package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// suspectWindow is how long after a suspect report further reports about
// the same service are answered without reaching the executor: a proxy whose
// requests all fail reports on every request, and each report that joins an
// incident is a write to the store.
const suspectWindow = time.Second

// PostSuspect serves POST /v1/services/{name}/suspect, the proxy's
// fast-path report, coalesced per service.
func (s *Server) PostSuspect(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.cfg.Incidents.Known(name) {
		s.answer(w, name, string(recover.FromProxy), fmt.Errorf("service %q: %w", name, executor.ErrUnknownService))
		return
	}
	var req api.SuspectRequest
	if err := DecodeBody(r, &req); err != nil {
		WriteJSON(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	last, seen := s.suspects[name]
	s.mu.Unlock()
	fresh := !seen || now.Sub(last) >= suspectWindow
	src := recover.FromProxy
	if r.Header.Get(api.VantageHeader) != "" { // a follower's monitor confirmed it (authorize checked its certificate)
		src = recover.FromMonitor
	}
	if !fresh {
		WriteJSON(w, http.StatusAccepted, api.TriggerResponse{Service: name, Source: string(src), State: s.cfg.Incidents.State(name), Coalesced: true})
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
	err := s.cfg.Incidents.Trigger(ctx, name, src, reason)
	switch {
	case err == nil: // only a report the executor took opens the window
		s.mu.Lock()
		s.suspects[name] = now
		s.mu.Unlock()
	case errors.Is(err, ErrNoLeader): // the term ended under the trigger
		s.keepSuspect(r, "whose monitor stopped leading under it")
	}
	s.answer(w, name, string(src), err)
}

// readReason reads the optional JSON body {"reason": "..."}.
func readReason(r *http.Request, def string) (string, error) {
	var req api.TriggerRequest
	if err := DecodeBody(r, &req); err != nil {
		return "", err
	}
	if req.Reason == "" {
		return def, nil
	}
	return req.Reason, nil
}

// postTrigger handles failover (cli): the trigger opens
// or joins the service's incident; 202 once the executor took it.
func (s *Server) postTrigger(src recover.Source) http.HandlerFunc {
	return s.PostAction(string(src), string(src)+" request", 10*time.Second,
		func(ctx context.Context, name, reason string) error {
			return s.cfg.Incidents.Trigger(ctx, name, src, reason)
		})
}

// PostAction serves a POST on a service whose optional body is
// {"reason": "..."} (by default what, from the caller's address): it runs
// act within timeout and answers with answer, naming src.
func (s *Server) PostAction(src, what string, timeout time.Duration, act func(ctx context.Context, name, reason string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		reason, err := readReason(r, what+" from "+r.RemoteAddr)
		if err != nil {
			WriteJSON(w, http.StatusBadRequest, api.Error{Error: err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		s.answer(w, name, src, act(ctx, name, reason))
	}
}

// answer maps an executor error to a status code.
func (s *Server) answer(w http.ResponseWriter, name, src string, err error) {
	state := s.cfg.Incidents.State(name)
	switch {
	case err == nil:
		WriteJSON(w, http.StatusAccepted, api.TriggerResponse{Service: name, Source: src, State: state})
	case errors.Is(err, executor.ErrUnknownService):
		WriteJSON(w, http.StatusNotFound, api.Error{Error: err.Error()})
	case errors.Is(err, recover.ErrIllegalTransition), errors.Is(err, recover.ErrPrimaryUnhealthy), errors.Is(err, recover.ErrDamped), errors.Is(err, executor.ErrStuck):
		WriteJSON(w, http.StatusConflict, api.Error{Error: err.Error(), State: state})
	case errors.Is(err, context.DeadlineExceeded):
		WriteJSON(w, http.StatusGatewayTimeout, api.Error{Error: err.Error(), State: state})
	case errors.Is(err, ErrNoLeader), errors.Is(err, store.ErrFenced), errors.Is(err, executor.ErrStopped): // the leadership ended under the call
		WriteJSON(w, http.StatusServiceUnavailable, api.Error{Error: err.Error(), State: state})
	default:
		WriteJSON(w, http.StatusInternalServerError, api.Error{Error: err.Error(), State: state})
	}
}
