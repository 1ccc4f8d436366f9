package capacity

import "github.com/understudy/understudy/inventory"

// Shares are the parts of a standby's load each running instance carries,
// in percent, from the agent's per-instance figures (GET /v1/capacity's
// instances): of the memory the instances use for the memory trigger, of
// the CPU they use otherwise. nil when the agent reports no instances or
// they use nothing.
func Shares(s Sample, trigger string) map[string]float64 {
	if s.Err != nil || len(s.Cap.Instances) == 0 {
		return nil
	}
	var total float64
	val := func(i int) float64 {
		if trigger == inventory.TriggerMemory {
			return float64(s.Cap.Instances[i].MemoryBytes)
		}
		return s.Cap.Instances[i].CPUPercent
	}
	for i := range s.Cap.Instances {
		total += val(i)
	}
	if total <= 0 {
		return nil
	}
	out := make(map[string]float64, len(s.Cap.Instances))
	for i, in := range s.Cap.Instances {
		out[in.Name] = 100 * val(i) / total
	}
	return out
}
