package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/monitor/api"
)

// leaderWait bounds how long a mutating call waits for some monitor to lead
// (an election in progress) before it is answered with 503.
const leaderWait = 10 * time.Second

// LeaderOnly serves mutating calls (every method but GET and HEAD) here
// while this monitor leads, and forwards them to the leader otherwise.
// Reads are served by every monitor from the shared store.
func (s *Server) LeaderOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), leaderWait)
		leader, err := s.cfg.Leadership.AwaitRole(ctx)
		cancel()
		switch {
		case err != nil:
			s.keepSuspect(r, "while no monitor led")
			WriteJSON(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
		case leader == nil:
			next.ServeHTTP(w, r)
		case r.Header.Get(api.ForwardedHeader) != "":
			WriteJSON(w, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("not the leader (%s leads); forwarded by %s", leader.Name, r.Header.Get(api.ForwardedHeader))})
		default:
			s.forward(w, r, *leader)
		}
	})
}

// forward sends r to the leader and copies its answer back.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, leader ha.Leader) {
	target := s.cfg.Peers.URL(leader)
	rp := &httputil.ReverseProxy{
		Transport: s.cfg.Peers.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(api.ForwardedHeader, s.cfg.Name)
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= http.StatusInternalServerError {
				s.keepSuspect(r, fmt.Sprintf("the leader %s answered %s", leader.Name, resp.Status))
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			s.keepSuspect(r, fmt.Sprintf("the leader %s did not answer", leader.Name))
			WriteJSON(w, http.StatusBadGateway, api.Error{Error: fmt.Sprintf("forward to leader %s at %s: %v", leader.Name, leader.Address, err)})
		},
	}
	s.metrics.forwarded.Inc()
	rp.ServeHTTP(w, r)
}

// keepSuspect passes r, a proxy's suspect report that no leader took
// (why), to Leadership.KeepSuspect for the next leadership: the proxy
// reports once per hold. A forwarded report is kept by the monitor that
// forwarded it.
func (s *Server) keepSuspect(r *http.Request, why string) {
	svc := suspectService(r)
	if svc == "" || r.Header.Get(api.ForwardedHeader) != "" {
		return
	}
	s.cfg.Leadership.KeepSuspect(svc, "proxy suspect "+why+", from "+r.RemoteAddr)
}

// suspectService is the service of a POST /v1/services/NAME/suspect, or "".
func suspectService(r *http.Request) string {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/services/")
	if !ok || r.Method != http.MethodPost {
		return ""
	}
	name, ok := strings.CutSuffix(rest, "/suspect")
	if !ok || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}
