package admit

import (
	"reflect"
	"testing"
)

const mib = 1 << 20

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		c        Capacity
		cands    []Candidate
		admitted []string
		refused  []Refusal
	}{
		{
			name:     "unlimited takes all by priority then name",
			cands:    []Candidate{{Service: "b", Priority: 100}, {Service: "a", Priority: 100}, {Service: "c", Priority: 900}},
			admitted: []string{"c", "a", "b"},
		},
		{
			name:     "no candidates",
			c:        Capacity{Slots: 1},
			admitted: nil,
		},
		{
			name: "running keep their place first even over capacity",
			c:    Capacity{Slots: 1, UsedSlots: 2, Memory: 512 * mib, UsedMemory: 768 * mib},
			cands: []Candidate{
				{Service: "hi", Priority: 1000, Memory: 64 * mib},
				{Service: "warm2", Priority: 1, Memory: 256 * mib, Running: true},
				{Service: "warm1", Priority: 5, Memory: 512 * mib, Running: true},
			},
			admitted: []string{"warm1", "warm2"},
			refused:  []Refusal{{Service: "hi", NeedSlots: 1, FreeSlots: 0, NeedMemory: 64 * mib, FreeMemory: 0}},
		},
		{
			name: "slots run out in priority order",
			c:    Capacity{Slots: 2},
			cands: []Candidate{
				{Service: "low", Priority: 10},
				{Service: "mid", Priority: 500},
				{Service: "top", Priority: 1000},
			},
			admitted: []string{"top", "mid"},
			refused:  []Refusal{{Service: "low", NeedSlots: 1, FreeSlots: 0}},
		},
		{
			name: "memory: a big one is refused, a smaller lower one still fits",
			c:    Capacity{Memory: 1024 * mib, UsedMemory: 256 * mib},
			cands: []Candidate{
				{Service: "big", Priority: 800, Memory: 1024 * mib},
				{Service: "small", Priority: 200, Memory: 512 * mib},
				{Service: "tiny", Priority: 100, Memory: 384 * mib},
			},
			admitted: []string{"small"},
			refused: []Refusal{
				{Service: "big", NeedMemory: 1024 * mib, FreeMemory: 768 * mib},
				{Service: "tiny", NeedMemory: 384 * mib, FreeMemory: 256 * mib},
			},
		},
		{
			name:     "exact fit is admitted",
			c:        Capacity{Slots: 1, Memory: 512 * mib},
			cands:    []Candidate{{Service: "a", Priority: 1, Memory: 512 * mib}},
			admitted: []string{"a"},
		},
		{
			name:     "no memory limit on the candidate needs no memory",
			c:        Capacity{Memory: 512 * mib, UsedMemory: 512 * mib},
			cands:    []Candidate{{Service: "a", Priority: 1}},
			admitted: []string{"a"},
		},
		{
			name: "warm counted, cold fill the rest",
			c:    Capacity{Slots: 3, UsedSlots: 1, Memory: 1024 * mib, UsedMemory: 512 * mib},
			cands: []Candidate{
				{Service: "cold-a", Priority: 300, Memory: 256 * mib},
				{Service: "warm", Priority: 100, Memory: 512 * mib, Running: true},
				{Service: "cold-b", Priority: 300, Memory: 256 * mib},
				{Service: "cold-c", Priority: 200, Memory: 128 * mib},
			},
			admitted: []string{"warm", "cold-a", "cold-b"},
			refused:  []Refusal{{Service: "cold-c", NeedSlots: 1, FreeSlots: 0, NeedMemory: 128 * mib, FreeMemory: 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Candidate(nil), tt.cands...)
			d := Decide(tt.c, tt.cands)
			if !reflect.DeepEqual(d.Admitted, tt.admitted) {
				t.Errorf("Admitted = %v, want %v", d.Admitted, tt.admitted)
			}
			if !reflect.DeepEqual(d.Refused, tt.refused) {
				t.Errorf("Refused = %+v, want %+v", d.Refused, tt.refused)
			}
			if !reflect.DeepEqual(in, tt.cands) {
				t.Errorf("Decide modified its input: %+v, was %+v", tt.cands, in)
			}
		})
	}
}

func TestRefusalReason(t *testing.T) {
	tests := []struct {
		r    Refusal
		want string
	}{
		{Refusal{NeedMemory: 512 * mib, FreeMemory: 128 * mib}, "no capacity (needs 512 MiB, 128 MiB free)"},
		{Refusal{NeedSlots: 1, FreeSlots: 0}, "no capacity (needs 1 slot, 0 free)"},
		{Refusal{NeedSlots: 1, FreeSlots: 0, NeedMemory: 2048 * mib, FreeMemory: 0}, "no capacity (needs 1 slot, 0 free; needs 2 GiB, 0 MiB free)"},
		{Refusal{NeedSlots: 1, FreeSlots: 0, NeedMemory: 64 * mib, FreeMemory: 128 * mib}, "no capacity (needs 1 slot, 0 free)"},
		{Refusal{NeedMemory: 1500, FreeMemory: 0}, "no capacity (needs 1500 bytes, 0 MiB free)"},
		{Refusal{}, "no capacity"},
	}
	for _, tt := range tests {
		if got := tt.r.Reason(); got != tt.want {
			t.Errorf("%+v.Reason() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestDecideRefusalsReadAsTheIssueAsks(t *testing.T) {
	d := Decide(Capacity{Memory: 640 * mib, UsedMemory: 512 * mib}, []Candidate{{Service: "x", Priority: 100, Memory: 512 * mib}})
	if len(d.Refused) != 1 {
		t.Fatalf("Refused = %+v, want one", d.Refused)
	}
	if got, want := d.Refused[0].Reason(), "no capacity (needs 512 MiB, 128 MiB free)"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
}
