package standby

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/understudy/understudy/standby/config"
)

// The agent's registry exports its health and capacity, and every metric it
// gathers after an activation passes promlint.
func TestCapacityMetrics(t *testing.T) {
	env := newTestEnv(t, func(c *config.Config) { c.Capacity.Containers = 3 })
	env.prepare(t, env.spec("web", ModeCold))
	if _, err := env.agent.Activate(t.Context(), 1, "web"); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	reg := env.agent.metrics.registry
	want := `# HELP understudy_agent_ready 1 once the agent reconciled its containers and serves activations, else 0.
# TYPE understudy_agent_ready gauge
understudy_agent_ready 1
# HELP understudy_agent_epoch The highest monitor epoch the agent accepted (it refuses lower ones).
# TYPE understudy_agent_epoch gauge
understudy_agent_epoch 1
# HELP understudy_agent_capacity_containers Containers the agent may run at once (capacity.containers).
# TYPE understudy_agent_capacity_containers gauge
understudy_agent_capacity_containers 3
# HELP understudy_agent_containers_running Containers running now (warm standbys and activated services).
# TYPE understudy_agent_containers_running gauge
understudy_agent_containers_running 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"understudy_agent_ready", "understudy_agent_epoch", "understudy_agent_capacity_containers", "understudy_agent_containers_running"); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"understudy_agent_vm_load_average", "understudy_agent_vm_memory_total_bytes", "understudy_agent_vm_steal_ratio", "understudy_agent_capacity_memory_bytes"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
