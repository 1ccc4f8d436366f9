package fairshare

import "testing"

func TestCompute(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		members []Member
		memory  int64
		cpu     map[string]int
		mem     map[string]int64
	}{
		{"none", nil, 1024 * mib, map[string]int{}, map[string]int64{}},
		{"alone", []Member{{Name: "a", Priority: 300, Memory: 64 * mib}}, 1024 * mib,
			map[string]int{"a": 100}, map[string]int64{"a": 1024 * mib}},
		{"equal default priorities", []Member{{Name: "a"}, {Name: "b"}}, 1024 * mib,
			map[string]int{"a": 50, "b": 50}, map[string]int64{"a": 512 * mib, "b": 512 * mib}},
		{"by priority", []Member{{Name: "a", Priority: 300, Memory: 64 * mib}, {Name: "b", Priority: 100, Memory: 64 * mib}}, 1024 * mib,
			map[string]int{"a": 75, "b": 25}, map[string]int64{"a": (64 + 672) * mib, "b": (64 + 224) * mib}},
		{"largest remainder adds up to 100", []Member{{Name: "a"}, {Name: "b"}, {Name: "c"}}, 0,
			map[string]int{"a": 34, "b": 33, "c": 33}, map[string]int64{"a": 0, "b": 0, "c": 0}},
		{"remainder goes to the higher priority", []Member{{Name: "a", Priority: 1}, {Name: "b", Priority: 2}}, 0,
			map[string]int{"a": 33, "b": 67}, map[string]int64{"a": 0, "b": 0}},
		{"a tiny priority still gets 1%", []Member{{Name: "big", Priority: 1000}, {Name: "tiny", Priority: 1}}, 0,
			map[string]int{"big": 100, "tiny": 1}, map[string]int64{"big": 0, "tiny": 0}},
		{"over-reserved memory keeps the reservations", []Member{{Name: "a", Memory: 800 * mib}, {Name: "b", Memory: 400 * mib}}, 1024 * mib,
			map[string]int{"a": 50, "b": 50}, map[string]int64{"a": 800 * mib, "b": 400 * mib}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute(tt.members, tt.memory)
			if len(got) != len(tt.cpu) {
				t.Fatalf("%d shares, want %d: %+v", len(got), len(tt.cpu), got)
			}
			var sumMem int64
			for i, s := range got {
				if i > 0 && got[i-1].Service >= s.Service {
					t.Errorf("not sorted by name: %+v", got)
				}
				if s.CPUAllowance != tt.cpu[s.Service] || s.Memory != tt.mem[s.Service] {
					t.Errorf("%s: cpu %d%% memory %d MiB, want %d%% %d MiB", s.Service, s.CPUAllowance, s.Memory/mib, tt.cpu[s.Service], tt.mem[s.Service]/mib)
				}
				sumMem += s.Memory
			}
			var reserved int64
			for _, m := range tt.members {
				reserved += m.Memory
			}
			if sumMem > max(tt.memory, reserved) {
				t.Errorf("memory limits add up to %d MiB, more than %d MiB", sumMem/mib, max(tt.memory, reserved)/mib)
			}
		})
	}
}
