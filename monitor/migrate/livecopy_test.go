package migrate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

func TestLiveDecision(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name          string
		policy        inventory.LiveMode
		sb, sp        string
		sbErr, spErr  error
		want          bool
		whyNotContain string
	}{
		{"never", inventory.LiveNever, "available", "available", nil, nil, false, "migration.live is never"},
		{"both available", inventory.LiveAuto, "available", "available", nil, nil, true, ""},
		{"standby unavailable", inventory.LiveAuto, "unavailable: criu 3.17.1: trial dump failed", "available", nil, nil, false, "the standby's CRIU is unavailable: criu 3.17.1"},
		{"spare unavailable", inventory.LiveAuto, "available", "unavailable: criu binary \"criu\" not found", nil, nil, false, "the spare's CRIU is unavailable"},
		{"standby silent", inventory.LiveAuto, "", "available", down, nil, false, "the standby's CRIU is unknown: connection refused"},
		{"spare without agent", inventory.LiveAuto, "available", "", nil, ErrNoAgent, false, "the spare's CRIU is unknown: no agent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			live, why := liveDecision(tc.policy, tc.sb, tc.sp, tc.sbErr, tc.spErr)
			if live != tc.want || !strings.Contains(why, tc.whyNotContain) || (live && why != "") {
				t.Errorf("liveDecision = %v, %q; want %v and a reason with %q", live, why, tc.want, tc.whyNotContain)
			}
		})
	}
}

// copier is a hand-written copy step: it records the kinds asked for and
// fails the live ones with liveErr and the cold ones with coldErr.
type copier struct {
	calls            []bool
	liveErr, coldErr error
}

func (c *copier) copy(_ context.Context, live bool) error {
	c.calls = append(c.calls, live)
	if live {
		return c.liveErr
	}
	return c.coldErr
}

func TestCopyLiveOrCold(t *testing.T) {
	dumpErr := errors.New("criu dump failed")
	full := errors.New("storage full")
	tests := []struct {
		name      string
		live      bool
		c         copier
		wantCalls []bool
		wantNote  string
		wantErr   string
	}{
		{"live works", true, copier{}, []bool{true}, "live copy (CRIU)", ""},
		{"live fails, cold works", true, copier{liveErr: dumpErr}, []bool{true, false},
			"stop-copy-start (the live copy failed: criu dump failed)", ""},
		{"not live", false, copier{}, []bool{false}, "stop-copy-start (migration.live is never)", ""},
		{"both fail", true, copier{liveErr: dumpErr, coldErr: full}, []bool{true, false}, "",
			"live copy failed (criu dump failed), and then stop-copy-start: storage full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			note, err := copyLiveOrCold(t.Context(), tc.live, "migration.live is never", tc.c.copy)
			if !slices.Equal(tc.c.calls, tc.wantCalls) || note != tc.wantNote {
				t.Errorf("calls %v note %q; want %v %q", tc.c.calls, note, tc.wantCalls, tc.wantNote)
			}
			if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
			if tc.wantErr != "" && !errors.Is(err, full) {
				t.Errorf("err %v does not wrap the stop-copy-start error", err)
			}
		})
	}
}

// TestCopyLiveOrColdStopsWhenCanceled: a live copy cut short by the
// context is not followed by a stop-copy-start.
func TestCopyLiveOrColdStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c := copier{liveErr: context.Canceled}
	cancel()
	if _, err := copyLiveOrCold(ctx, true, "", c.copy); !errors.Is(err, context.Canceled) || !slices.Equal(c.calls, []bool{true}) {
		t.Errorf("err %v calls %v; want the cancellation and only the live attempt", err, c.calls)
	}
}

// TestLiveForAsksBothAgents: with migration.live auto, liveFor asks the
// daemon's StandbyCRIU and SpareCRIU for the two ends, by name.
func TestLiveForAsksBothAgents(t *testing.T) {
	status := func(answers map[string]string) CRIUStatus {
		return func(_ context.Context, name string) (string, error) {
			s, ok := answers[name]
			if !ok {
				return "", ErrNoAgent
			}
			return s, nil
		}
	}
	inv := &inventory.Inventory{Migration: inventory.Migration{Live: inventory.LiveAuto}}
	tests := []struct {
		name      string
		sb, sp    CRIUStatus
		want      bool
		whyNotHas string
	}{
		{"both available", status(map[string]string{"sb-1": "available"}), status(map[string]string{"sp-1": "available"}), true, ""},
		{"spare unavailable", status(map[string]string{"sb-1": "available"}), status(map[string]string{"sp-1": "unavailable: no criu"}), false, "the spare's CRIU is unavailable: no criu"},
		{"standby unknown", status(nil), status(map[string]string{"sp-1": "available"}), false, "the standby's CRIU is unknown"},
		{"no way to ask", nil, nil, false, "the daemon gave no way to ask"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Config{Inventory: func() *inventory.Inventory { return inv }, StandbyCRIU: tc.sb, SpareCRIU: tc.sp})
			defer m.Close()
			live, why := m.liveFor(t.Context(), "sb-1", "sp-1")
			if live != tc.want || !strings.Contains(why, tc.whyNotHas) {
				t.Errorf("liveFor = %v, %q; want %v and a reason with %q", live, why, tc.want, tc.whyNotHas)
			}
		})
	}
}
