package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby"
)

// migration.live: with auto, a migration to a spare copies the running
// container's state (CRIU, an Incus/LXD live copy) when the agents of both
// ends report CRIU available in GET /v1/health; a live copy that fails is
// followed by stop-copy-start, and the copy step's note in the incident
// says which it was and why. Only where both agents proved CRIU is a live
// copy asked for: a failed one can wedge the source daemon (LAB.md).
//
// Limitation: a live copy keeps the container's network state, so its
// address is the standby's, not one of the spare's pool (the agent of the
// copy's start is not involved). Live copies suit spares that share the
// standby's network (criu-drill.sh's live drill bridges both onto one).

// criuHealthTimeout bounds one agent's health answer for the live decision.
const criuHealthTimeout = 3 * time.Second

// errNoAgent: a spare without spares[].agent cannot say whether CRIU works.
var errNoAgent = errors.New("no agent in the inventory")

// restoreReporter is an agent that reports its CRIU probe (standby.Client).
type restoreReporter interface {
	Health(ctx context.Context) (standby.Health, error)
}

// liveDecision says whether a copy from standby to spare is live, and why
// not: policy is migration.live, and standbyCRIU and spareCRIU are the
// agents' "restore" health fields, or the errors reading them.
func liveDecision(policy inventory.LiveMode, standbyCRIU, spareCRIU string, standbyErr, spareErr error) (bool, string) {
	switch {
	case policy != inventory.LiveAuto:
		return false, "migration.live is never"
	case standbyErr != nil:
		return false, "the standby's CRIU is unknown: " + standbyErr.Error()
	case spareErr != nil:
		return false, "the spare's CRIU is unknown: " + spareErr.Error()
	case standbyCRIU != "available":
		return false, "the standby's CRIU is " + standbyCRIU
	case spareCRIU != "available":
		return false, "the spare's CRIU is " + spareCRIU
	}
	return true, ""
}

// copyLiveOrCold runs copy live when live, and stop-copy-start otherwise or
// after a failed live copy. It returns the note for the incident: how the
// copy was made and, when not live, why.
func copyLiveOrCold(ctx context.Context, live bool, whyNot string, copy func(ctx context.Context, live bool) error) (string, error) {
	if !live {
		if err := copy(ctx, false); err != nil {
			return "", err
		}
		return "stop-copy-start (" + whyNot + ")", nil
	}
	lerr := copy(ctx, true)
	if lerr == nil {
		return "live copy (CRIU)", nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("live copy: %w", lerr)
	}
	if err := copy(ctx, false); err != nil {
		return "", fmt.Errorf("live copy failed (%v), and then stop-copy-start: %w", lerr, err)
	}
	return "stop-copy-start (the live copy failed: " + lerr.Error() + ")", nil
}

// criuOf reads one agent's CRIU status, bounded by criuHealthTimeout.
func criuOf(ctx context.Context, r restoreReporter) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, criuHealthTimeout)
	defer cancel()
	h, err := r.Health(ctx)
	if err != nil {
		return "", fmt.Errorf("read health: %w", err)
	}
	return h.Restore, nil
}

// liveFor decides whether the copy of a service from standby to spare is
// live (liveDecision), asking both agents when migration.live is auto.
func (m *lxdMigrator) liveFor(ctx context.Context, standbyName, spare string) (bool, string) {
	inv := m.c.plan().inv
	if inv.Migration.Live != inventory.LiveAuto {
		return liveDecision(inv.Migration.Live, "", "", nil, nil)
	}
	var sbCRIU, spCRIU string
	var sbErr, spErr error
	if a, err := m.c.conns.agent(standbyName); err != nil {
		sbErr = err
	} else if r, ok := a.(restoreReporter); !ok {
		sbErr = fmt.Errorf("its client (%T) reports no health", a)
	} else {
		sbCRIU, sbErr = criuOf(ctx, r)
	}
	spCRIU, spErr = m.spareCRIU(ctx, spare)
	return liveDecision(inv.Migration.Live, sbCRIU, spCRIU, sbErr, spErr)
}

// spareCRIU asks a spare's agent (spares[].agent) for its CRIU status, with
// a client of its own, like spareAgentCapacity.
func (m *lxdMigrator) spareCRIU(ctx context.Context, name string) (string, error) {
	inv := m.c.plan().inv
	sp := inv.Spare(name)
	if sp == nil || sp.Agent == "" {
		return "", errNoAgent
	}
	files := inv.Monitor.AgentTLS
	if files.IsZero() {
		return "", errors.New("monitor.agent-tls is not set; agents require mutual TLS")
	}
	cfg, err := standby.ClientTLSConfig(files.CA, files.Cert, files.Key)
	if err != nil {
		return "", fmt.Errorf("load monitor.agent-tls: %w", err)
	}
	cl := standby.NewClient(sp.Agent, cfg)
	defer cl.Close()
	return criuOf(ctx, cl)
}
