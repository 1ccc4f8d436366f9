// Package httpapi is the monitor daemon's HTTP API (monitor/README.md is
// its reference): the routes, who may call them (auth.go), the forwarding
// of mutating calls from a follower to the leader (forward.go), the
// placement stream (watch.go) and the mapping of the daemon's errors to
// status codes. Its request and response bodies are package monitor/api's.
//
// It is one part of the daemon and sees the rest only through three small
// interfaces: Incidents (what changes something), Views (what it reads) and
// Leadership (who acts). It does not run incidents, read the store or
// decide who leads; package monitor wires it to the parts that do.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/internal/httpjson"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// Incidents is what the API's mutating calls ask of the daemon: the
// executor of the term in force. Every method is called on a leader only
// (a follower forwards) and must honour ctx.
type Incidents interface {
	// Known reports whether the inventory in force has the service.
	Known(service string) bool
	// Trigger hands a trigger to the executor (recover's errors, or
	// ErrNoLeader when the term ended under it).
	Trigger(ctx context.Context, service string, src recover.Source, reason string) error
	// Reset, Failback and Migrate are the operator's moves.
	Reset(ctx context.Context, service, reason string) error
	Failback(ctx context.Context, service, reason string) error
	Migrate(ctx context.Context, service string, req api.MigrateRequest) (api.MigrateResponse, error)
	// State is the service's state name, "" when unknown.
	State(service string) string
}

// Views is what the API's reads show. Safe for concurrent use.
type Views interface {
	// Health is the body of GET /healthz.
	Health() api.Health
	// Status is this monitor's own status (from its executor or the store).
	Status(ctx context.Context) api.Status
	// LeaderStatus is the leader's status, fetched by a follower
	// (ErrNoLeader when no other monitor is known to lead).
	LeaderStatus(ctx context.Context) (api.Status, error)
	// Placements returns every configured service's placement and, when
	// watch is set, the store's changes until ctx ends (the channel closes
	// when the store drops the watch).
	Placements(ctx context.Context, watch bool) ([]recover.Placement, <-chan recover.Placement, error)
}

// Leadership is who acts. Safe for concurrent use.
type Leadership interface {
	// AwaitRole waits until this monitor leads (nil) or another one with
	// an address does (that one), or ctx ends (an error wrapping
	// ErrNoLeader).
	AwaitRole(ctx context.Context) (*ha.Leader, error)
	// Leading reports whether this monitor leads now.
	Leading() bool
	// KeepSuspect keeps a proxy's suspect report about service that no
	// leader took, for the next leadership.
	KeepSuspect(service, reason string)
}

// ErrNoLeader answers a mutating call that no monitor can take now (503).
var ErrNoLeader = errors.New("no monitor leads")

// Config is what New needs.
type Config struct {
	// Name is this monitor's name, sent to the leader on forwarded calls.
	Name       string
	Incidents  Incidents
	Views      Views
	Leadership Leadership
	// Auth decides who may change something (auth.go).
	Auth Auth
	// Peers is how this monitor reaches the leader's API.
	Peers Peers
	// Gatherer is served on GET /metrics; Registerer gets the API's own
	// metrics (nil: not registered).
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// Keepalive is the pause between keepalive lines of a placement watch
	// (default 15s).
	Keepalive time.Duration
	// Routes, when set, adds routes to the API's mux, behind the same
	// listener, authorization and forwarding (the read-only status page of
	// package monitor/statuspage registers here).
	Routes func(mux *http.ServeMux)
	// Clock times the suspect window (default clock.Wall).
	Clock  clock.Clock
	Logger *slog.Logger
}

// Peers is how this monitor calls another monitor's API: plain HTTP, or
// HTTPS with the monitors' shared certificate (monitor.api-tls).
type Peers struct {
	Scheme    string // http or https
	Transport http.RoundTripper
}

// URL is the base URL of leader's API.
func (p Peers) URL(l ha.Leader) *url.URL {
	return &url.URL{Scheme: p.Scheme, Host: l.Address}
}

// Server is the HTTP API. Create it with New.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	suspects map[string]time.Time // service -> last suspect report passed on
	reroutes *reroutes            // the proxies' reroute reports (reroute.go)
}

// New returns the API of cfg.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = 15 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "controller"), metrics: newMetrics(cfg.Registerer),
		suspects: map[string]time.Time{}, reroutes: newReroutes(cfg.Clock)}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.reroutes)
	}
	return s
}

// Handler is the API's handler: the routes behind authorization and the
// forwarding of mutating calls to the leader.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.cfg.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /v1/status", s.getStatus)
	mux.HandleFunc("GET /v1/placements", s.placements)
	mux.HandleFunc("POST /v1/services/{name}/suspect", s.PostSuspect)
	mux.HandleFunc("POST /v1/services/{name}/reroute", s.PostReroute)
	mux.HandleFunc("POST /v1/services/{name}/failover", s.postTrigger(recover.FromCLI))
	// The operator puts a service back on its primary, as executor steps:
	// the primary's check, DNS swapped back (compare-and-swap from the
	// standby's address), the standby container back to its prepared state.
	mux.HandleFunc("POST /v1/services/{name}/reset", s.PostAction("", "reset by an operator", 30*time.Second, s.cfg.Incidents.Reset))
	mux.HandleFunc("POST /v1/services/{name}/migrate", s.PostMigrate)
	// The executor moves a service back to its primary.
	mux.HandleFunc("POST /v1/services/{name}/failback", s.PostAction(string(recover.FromCLI), "failback request", 10*time.Second, s.cfg.Incidents.Failback))
	if s.cfg.Routes != nil {
		s.cfg.Routes(mux)
	}
	return s.authorize(s.LeaderOnly(mux))
}

// WriteJSON writes v as the JSON answer with code (httpjson.Write, the
// one writer; the routes' files call it by this name).
func WriteJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }

// DecodeBody decodes the optional JSON body of r into v, strictly: one
// JSON value of at most api.MaxBody bytes whose fields v knows (a misspelt
// field such as "dryrun" is an error naming it, not a silent default). An
// empty body leaves v as it is. Every body the API reads goes through it.
func DecodeBody(r *http.Request, v any) error {
	return httpjson.DecodeStrict(r, v, api.MaxBody)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, s.cfg.Views.Health())
}

// getStatus answers with this monitor's status. A follower passes on the
// leader's, which also knows what it prepared on the agents, and falls back
// to its own (from the store) when the leader cannot answer.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Leadership.Leading() && r.Header.Get(api.ForwardedHeader) == "" {
		if st, err := s.cfg.Views.LeaderStatus(r.Context()); err == nil {
			st.Monitor = s.cfg.Name
			WriteJSON(w, http.StatusOK, st)
			return
		} else if !errors.Is(err, ErrNoLeader) {
			s.log.Debug("leader's status unavailable; answering from the store", "err", err)
		}
	}
	st := s.cfg.Views.Status(r.Context())
	s.reroutes.annotate(&st)
	WriteJSON(w, http.StatusOK, st)
}
