package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover/executor"
)

// reroutes are the proxies' reroute reports (POST
// /v1/services/{name}/reroute) that the leader keeps in memory: a proxy
// with proxy-reroute: warm that cannot reach a primary sends its requests
// to the warm standby container and says so. Nothing acts on them; status
// shows them and understudy_monitor_proxy_reroutes counts them. A new
// leader starts empty and learns them again from the proxies' repeats.
type reroutes struct {
	clock clock.Clock

	mu sync.Mutex
	by map[string]map[string]api.RerouteStatus // service -> proxy -> report
}

var rerouteDesc = prometheus.NewDesc("understudy_monitor_proxy_reroutes",
	"Proxies that report sending the service's requests to its warm standby container because they cannot reach the primary (proxy-reroute: warm); reports not repeated within 90 s are dropped.",
	[]string{"service"}, nil)

func newReroutes(c clock.Clock) *reroutes {
	return &reroutes{clock: c, by: map[string]map[string]api.RerouteStatus{}}
}

// PostReroute serves POST /v1/services/{name}/reroute, a proxy's report
// that it sends the service's requests to its warm standby container, or
// to the primary again. It opens no incident and changes no placement.
func (s *Server) PostReroute(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.cfg.Incidents.Known(name) {
		WriteJSON(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("service %q: %v", name, executor.ErrUnknownService)})
		return
	}
	var req api.RerouteRequest
	if err := DecodeBody(r, &req); err != nil {
		WriteJSON(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	if req.Proxy == "" {
		req.Proxy = remoteHost(r)
	}
	if s.reroutes.report(name, req) {
		s.log.Warn("a proxy sends the service's requests to its warm standby: it cannot reach the primary",
			"service", name, "proxy", req.Proxy, "primary", req.Primary, "standby", req.Standby, "reason", req.Reason)
	} else if !req.Active {
		s.log.Info("a proxy sends the service's requests to its primary again", "service", name, "proxy", req.Proxy)
	}
	WriteJSON(w, http.StatusOK, api.TriggerResponse{Service: name, State: s.cfg.Incidents.State(name)})
}

// remoteHost is the caller's address without its port.
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// report records req for service; it reports whether it is a new active
// reroute (not a repeat).
func (t *reroutes) report(service string, req api.RerouteRequest) bool {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	byProxy := t.by[service]
	if !req.Active {
		delete(byProxy, req.Proxy)
		return false
	}
	if byProxy == nil {
		byProxy = map[string]api.RerouteStatus{}
		t.by[service] = byProxy
	}
	old, repeat := byProxy[req.Proxy]
	since := req.Since
	switch {
	case repeat && since.IsZero():
		since = old.Since
	case since.IsZero():
		since = now
	}
	byProxy[req.Proxy] = api.RerouteStatus{Proxy: req.Proxy, Since: since, Primary: req.Primary,
		Standby: req.Standby, Reason: req.Reason, Seen: now}
	return !repeat
}

// expireLocked drops reports not repeated within api.RerouteTTL.
func (t *reroutes) expireLocked(now time.Time) {
	for svc, byProxy := range t.by {
		for px, st := range byProxy {
			if now.Sub(st.Seen) > api.RerouteTTL {
				delete(byProxy, px)
			}
		}
		if len(byProxy) == 0 {
			delete(t.by, svc)
		}
	}
}

// annotate adds the live reports to st's services.
func (t *reroutes) annotate(st *api.Status) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	for i := range st.Services {
		byProxy := t.by[st.Services[i].Service]
		if len(byProxy) == 0 {
			continue
		}
		list := make([]api.RerouteStatus, 0, len(byProxy))
		for _, r := range byProxy {
			list = append(list, r)
		}
		sort.Slice(list, func(a, b int) bool { return list[a].Proxy < list[b].Proxy })
		st.Services[i].Rerouted = list
	}
}

// Describe implements prometheus.Collector.
func (t *reroutes) Describe(ch chan<- *prometheus.Desc) { ch <- rerouteDesc }

// Collect implements prometheus.Collector: one series per service that a
// proxy reroutes now.
func (t *reroutes) Collect(ch chan<- prometheus.Metric) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	for svc, byProxy := range t.by {
		ch <- prometheus.MustNewConstMetric(rerouteDesc, prometheus.GaugeValue, float64(len(byProxy)), svc)
	}
}
