package standby

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/understudy/understudy/internal/httpjson"
	"github.com/understudy/understudy/standby/api"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Handler returns the agent's HTTP API; see README.md for the reference.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, a.Health())
	})
	mux.HandleFunc("GET /v1/capacity", func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Capacity()
		reply(w, c, err)
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		s, err := a.Services(r.Context())
		reply(w, s, err)
	})
	// Everything that carries an epoch or changes a container: monitors only (auth.go).
	mux.HandleFunc("PUT /v1/services/{name}", a.monitorOnly(a.handlePrepare))
	mux.HandleFunc("POST /v1/services/{name}/activate", a.monitorOnly(func(w http.ResponseWriter, r *http.Request) {
		withEpoch(w, r, func(epoch uint64) (any, error) { return a.Activate(r.Context(), epoch, r.PathValue("name")) })
	}))
	mux.HandleFunc("POST /v1/services/{name}/deactivate", a.monitorOnly(func(w http.ResponseWriter, r *http.Request) {
		withEpoch(w, r, func(epoch uint64) (any, error) { return a.Deactivate(r.Context(), epoch, r.PathValue("name")) })
	}))
	mux.HandleFunc("DELETE /v1/services/{name}", a.monitorOnly(func(w http.ResponseWriter, r *http.Request) {
		withEpoch(w, r, func(epoch uint64) (any, error) {
			return map[string]string{"deleted": r.PathValue("name")}, a.Delete(r.Context(), epoch, r.PathValue("name"))
		})
	}))
	mux.HandleFunc("POST /v1/probe", func(w http.ResponseWriter, r *http.Request) {
		var req ProbeRequest
		if err := decodeBody(r, &req); err != nil {
			writeError(w, err)
			return
		}
		res, err := Probe(r.Context(), a.pinger, req)
		reply(w, res, err)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}

func (a *Agent) handlePrepare(w http.ResponseWriter, r *http.Request) {
	var spec ServiceSpec
	if err := decodeBody(r, &spec); err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	if spec.Name == "" {
		spec.Name = name
	}
	if spec.Name != name {
		writeError(w, fmt.Errorf("%w: body name %q differs from path name %q", ErrInvalid, spec.Name, name))
		return
	}
	st, err := a.Prepare(r.Context(), spec)
	reply(w, st, err)
}

// withEpoch reads {"epoch": N} from the body (or ?epoch=N) and runs fn.
func withEpoch(w http.ResponseWriter, r *http.Request, fn func(uint64) (any, error)) {
	var req EpochRequest
	if q := r.URL.Query().Get("epoch"); q != "" {
		e, err := strconv.ParseUint(q, 10, 64)
		if err != nil {
			writeError(w, fmt.Errorf("%w: epoch %q is not a number", ErrInvalid, q))
			return
		}
		req.Epoch = e
	} else if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	v, err := fn(req.Epoch)
	reply(w, v, err)
}

// decodeBody decodes r's optional body into v strictly (httpjson.DecodeStrict:
// no unknown field, nothing after the value); a refusal wraps ErrInvalid.
func decodeBody(r *http.Request, v any) error {
	if err := httpjson.DecodeStrict(r, v, maxBody); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

// errorCodes maps sentinel errors to HTTP statuses and wire codes.
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	{ErrStaleEpoch, http.StatusConflict, "stale_epoch"},
	{ErrNoCapacity, http.StatusInsufficientStorage, "no_capacity"},
	{ErrNotFound, http.StatusNotFound, "not_found"},
	{ErrInvalid, http.StatusBadRequest, "invalid"},
	{ErrNotReady, http.StatusServiceUnavailable, "not_ready"},
	{ErrDataDiskMissing, http.StatusUnprocessableEntity, "data_disk_missing"},
	{ErrForbidden, http.StatusForbidden, "forbidden"},
	{ErrNotServing, http.StatusBadGateway, "not_serving"},
	{ErrSwapping, http.StatusConflict, "swapping"},
}

// errorForCode is the sentinel of a wire code (the client's side of
// errorCodes), or nil.
func errorForCode(code string) error {
	for _, e := range errorCodes {
		if e.code == code {
			return e.err
		}
	}
	return nil
}

func writeError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, "internal"
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			status, code = e.status, e.code
			break
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && code == "internal" {
		status, code = http.StatusGatewayTimeout, "timeout"
	}
	httpjson.Write(w, status, api.ErrorBody{Error: err.Error(), Code: code})
}
