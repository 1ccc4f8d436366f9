package probe

import (
	"reflect"
	"testing"
)

// topology for the classifier tests: host-a runs web-vm (web, shop) and
// api-vm (api); host-b runs db-vm (db).
func testView(down ...string) View {
	isDown := map[string]bool{}
	for _, d := range down {
		isDown[d] = true
	}
	st := func(name string) EntityState {
		if isDown[name] {
			return EntityState{Name: name, Reason: name + " fails"}
		}
		return EntityState{Name: name, Up: true}
	}
	svc := func(name, vm string) ServiceState {
		return ServiceState{EntityState: st(name), VM: vm, Application: isDown[name+"!app"]}
	}
	return View{
		Hypervisors: []EntityState{st("host-a"), st("host-b")},
		VMs: []VMState{
			{EntityState: st("web-vm"), Hypervisor: "host-a"},
			{EntityState: st("api-vm"), Hypervisor: "host-a"},
			{EntityState: st("db-vm"), Hypervisor: "host-b"},
		},
		Services: []ServiceState{svc("web", "web-vm"), svc("shop", "web-vm"), svc("api", "api-vm"), svc("db", "db-vm")},
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		down []string
		want []Finding
	}{
		{name: "all healthy", want: nil},
		{
			name: "service down on a VM that answers is an application failure",
			down: []string{"api"},
			want: []Finding{{Kind: ServiceDown, Services: []string{"api"}, VMs: []string{"api-vm"}, Reason: "service api: api fails"}},
		},
		{
			name: "a wrong answer is marked application-level",
			down: []string{"api", "api!app"},
			want: []Finding{{Kind: ServiceDown, Services: []string{"api"}, VMs: []string{"api-vm"}, Reason: "service api: api fails", Application: true}},
		},
		{
			name: "VM down on an up hypervisor covers its services",
			down: []string{"web-vm", "web"},
			want: []Finding{{Kind: VMDown, VMs: []string{"web-vm"}, Services: []string{"shop", "web"}, Reason: "vm web-vm: web-vm fails"}},
		},
		{
			name: "VM failing its probes while all its services answer is degraded",
			down: []string{"web-vm"},
			want: []Finding{{Kind: Degraded, VMs: []string{"web-vm"}, Reason: "vm web-vm: web-vm fails (its services answer)"}},
		},
		{
			name: "hypervisor down is one host incident for all its VMs and services",
			down: []string{"host-a", "web-vm", "api-vm", "web", "shop", "api"},
			want: []Finding{{
				Kind: HostDown, Hypervisor: "host-a", VMs: []string{"api-vm", "web-vm"}, Services: []string{"api", "shop", "web"},
				Reason: "hypervisor host-a: host-a fails; vm web-vm: web-vm fails; vm api-vm: api-vm fails",
			}},
		},
		{
			name: "one VM down is enough to make a host incident",
			down: []string{"host-a", "api-vm"},
			want: []Finding{{
				Kind: HostDown, Hypervisor: "host-a", VMs: []string{"api-vm", "web-vm"}, Services: []string{"api", "shop", "web"},
				Reason: "hypervisor host-a: host-a fails; vm api-vm: api-vm fails",
			}},
		},
		{
			name: "hypervisor down while its VMs answer is degraded",
			down: []string{"host-b"},
			want: []Finding{{
				Kind: Degraded, Hypervisor: "host-b", VMs: []string{"db-vm"}, Services: []string{"db"},
				Reason: "hypervisor host-b: host-b fails (its VMs answer)",
			}},
		},
		{
			name: "failures on two hosts stay separate",
			down: []string{"db-vm", "db", "api"},
			want: []Finding{
				{Kind: VMDown, VMs: []string{"db-vm"}, Services: []string{"db"}, Reason: "vm db-vm: db-vm fails"},
				{Kind: ServiceDown, Services: []string{"api"}, VMs: []string{"api-vm"}, Reason: "service api: api fails"},
			},
		},
		{
			name: "everything down at once is isolation",
			down: []string{"host-a", "host-b", "web-vm", "api-vm", "db-vm", "web", "shop", "api", "db"},
			want: []Finding{{
				Kind: Isolated, Reason: "every hypervisor and VM is down from the monitor",
				Underlying: []Finding{
					{Kind: HostDown, Hypervisor: "host-a", VMs: []string{"api-vm", "web-vm"}, Services: []string{"api", "shop", "web"},
						Reason: "hypervisor host-a: host-a fails; vm web-vm: web-vm fails; vm api-vm: api-vm fails"},
					{Kind: HostDown, Hypervisor: "host-b", VMs: []string{"db-vm"}, Services: []string{"db"},
						Reason: "hypervisor host-b: host-b fails; vm db-vm: db-vm fails"},
				},
			}},
		},
		{
			name: "all hypervisors down but a VM answers is not isolation",
			down: []string{"host-a", "host-b", "web-vm", "api-vm"},
			want: []Finding{
				{Kind: HostDown, Hypervisor: "host-a", VMs: []string{"api-vm", "web-vm"}, Services: []string{"api", "shop", "web"},
					Reason: "hypervisor host-a: host-a fails; vm web-vm: web-vm fails; vm api-vm: api-vm fails"},
				{Kind: Degraded, Hypervisor: "host-b", VMs: []string{"db-vm"}, Services: []string{"db"},
					Reason: "hypervisor host-b: host-b fails (its VMs answer)"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Classify(testView(c.down...))
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Classify(down %v)\n got %+v\nwant %+v", c.down, got, c.want)
			}
		})
	}
}

func TestClassifyEmptyView(t *testing.T) {
	if got := Classify(View{}); len(got) != 0 {
		t.Errorf("Classify(empty) = %+v, want nothing", got)
	}
}

func TestFindingKeysAreDistinct(t *testing.T) {
	fs := []Finding{
		{Kind: ServiceDown, Services: []string{"web"}, VMs: []string{"web-vm"}},
		{Kind: VMDown, VMs: []string{"web-vm"}, Services: []string{"web"}},
		{Kind: HostDown, Hypervisor: "host-a", VMs: []string{"web-vm"}},
		{Kind: Degraded, Hypervisor: "host-a", VMs: []string{"web-vm"}},
		{Kind: Degraded, VMs: []string{"web-vm"}},
		{Kind: Isolated},
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.Key()] {
			t.Errorf("key %q used twice", f.Key())
		}
		seen[f.Key()] = true
	}
}
