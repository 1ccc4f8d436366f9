package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/understudy/understudy/inventory"
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
//
// The agents' CRIU status reaches this package through Config.StandbyCRIU
// and Config.SpareCRIU, which the daemon wires to its agent clients.

// criuTimeout bounds one agent's CRIU answer for the live decision.
const criuTimeout = 3 * time.Second

// ErrNoAgent is what a Config.SpareCRIU returns for a spare without
// spares[].agent: nothing can say whether its CRIU works.
var ErrNoAgent = errors.New("no agent in the inventory")

// errNoCRIUSource: Config has no way to ask the agent.
var errNoCRIUSource = errors.New("the daemon gave no way to ask the agent")

// CRIUStatus reads the CRIU status an agent reports in GET /v1/health
// (standby.Health.Restore: "available", or "unavailable: why") for the
// standby or spare named name.
type CRIUStatus func(ctx context.Context, name string) (string, error)

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

// criuOf reads one agent's CRIU status through status, bounded by
// criuTimeout.
func criuOf(ctx context.Context, status CRIUStatus, name string) (string, error) {
	if status == nil {
		return "", errNoCRIUSource
	}
	ctx, cancel := context.WithTimeout(ctx, criuTimeout)
	defer cancel()
	s, err := status(ctx, name)
	if err != nil {
		return "", fmt.Errorf("read health: %w", err)
	}
	return s, nil
}

// liveFor decides whether the copy of a service from standby to spare is
// live (liveDecision), asking both agents when migration.live is auto.
func (m *LXD) liveFor(ctx context.Context, standbyName, spare string) (bool, string) {
	policy := m.cfg.Inventory().Migration.Live
	if policy != inventory.LiveAuto {
		return liveDecision(policy, "", "", nil, nil)
	}
	sbCRIU, sbErr := criuOf(ctx, m.cfg.StandbyCRIU, standbyName)
	spCRIU, spErr := criuOf(ctx, m.cfg.SpareCRIU, spare)
	return liveDecision(policy, sbCRIU, spCRIU, sbErr, spErr)
}
