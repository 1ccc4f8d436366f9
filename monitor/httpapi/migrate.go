package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// ErrNoSpare: no spare can take the service (none eligible, or the one
// asked for is not eligible); a migrate request gets 409.
var ErrNoSpare = errors.New("no eligible spare")

// PostMigrate serves POST /v1/services/{name}/migrate: 200 for a dry run,
// 202 once the executor took the migration, 409 when no spare is eligible,
// 503 while the migration limit stays reached.
func (s *Server) PostMigrate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req api.MigrateRequest
	if err := DecodeBody(r, &req); err != nil {
		WriteJSON(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	if req.Reason == "" {
		req.Reason = "migrate request from " + r.RemoteAddr
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	res, err := s.cfg.Incidents.Migrate(ctx, name, req)
	res.State = s.cfg.Incidents.State(name)
	switch {
	case err == nil && req.DryRun:
		WriteJSON(w, http.StatusOK, res)
	case err == nil:
		WriteJSON(w, http.StatusAccepted, res)
	case errors.Is(err, ErrNoSpare):
		res.Error = err.Error()
		WriteJSON(w, http.StatusConflict, res)
	case errors.Is(err, executor.ErrBusy):
		res.Error = err.Error()
		WriteJSON(w, http.StatusServiceUnavailable, res)
	default:
		s.answer(w, name, string(recover.FromCLI), err)
	}
}
