package inventory_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// invalidCases maps each testdata/invalid-*.yaml file to its exact errors,
// written as "LINE:COL: path: message" after the file name; $DIR stands for
// the absolute path of testdata.
var invalidCases = []struct {
	file string
	want []string
}{
	{"invalid-address-not-ip.yaml", []string{"35:14: vms[0].address: \"web-vm.lab.test\" is not an IP address"}},
	{"invalid-alert-url.yaml", []string{"22:14: monitor.alert-url: invalid URL: want http://host/path or https://host/path"}},
	{"invalid-agent-tls-incomplete.yaml", []string{"17:14: monitor.agent-tls: set ca, cert and key together"}},
	{"invalid-api-client-tls-alone.yaml", []string{"18:19: monitor.api-client-tls: set it only with monitor.api-tls"}},
	{"invalid-api-insecure-listen.yaml", []string{"11:11: monitor.listen: 0.0.0.0:9180 is reachable from other machines without monitor.api-tls: anyone who reaches it could read the API and fail services over; set monitor.api-tls (mutual TLS), listen on 127.0.0.1, or set monitor.insecure-api: true to accept that"}},
	{"invalid-api-insecure-not-bool.yaml", []string{"12:17: monitor.insecure-api: expected true or false, got \"yes please\""}},
	{"invalid-api-token-with-tls.yaml", []string{"19:19: monitor.api-token-file: set it only without monitor.api-tls: with mutual TLS the client certificate is the credential"}},
	{"invalid-api-tls-incomplete.yaml", []string{"18:12: monitor.api-tls: set ca, cert and key together"}},
	{"invalid-api-tls-proxy-http.yaml", []string{"52:12: proxy.monitor: invalid URL \"http://127.0.0.1:9180\": want https:// while monitor.api-tls is set"}},
	{"invalid-bandwidth-unit.yaml", []string{"95:14: migration.bandwidth: invalid bandwidth \"100 mbps\": write a whole number with kbit, Mbit or Gbit, such as 100Mbit"}},
	{"invalid-bad-confirm.yaml", []string{"85:14: services[1].confirm: invalid confirm \"nobody\": want agent or none"}},
	{"invalid-bad-dns-name.yaml", []string{"5:9: dns.zone: invalid DNS name \"lab..test.\""}},
	{"invalid-bad-duration-words.yaml", []string{"70:11: services[0].hold: invalid duration \"two seconds\": write a number with a unit, such as 250ms, 10s or 1h"}},
	{"invalid-bad-duration.yaml", []string{"13:13: monitor.interval: invalid duration \"250\": write a number with a unit, such as 250ms, 10s or 1h"}},
	{"invalid-bad-failback.yaml", []string{"64:15: services[0].failback: invalid failback \"automatic\": want manual or auto"}},
	{"invalid-bad-fence.yaml", []string{"67:12: services[0].fence: invalid fence \"stonith\": want hypervisor, command or none"}},
	{"invalid-bad-host-port.yaml", []string{"50:11: proxy.listen: invalid address \"127.0.0.1\": want host:port, such as 127.0.0.1:9180"}},
	{"invalid-bad-mode.yaml", []string{"62:11: services[0].mode: invalid mode \"hot\": want warm, cold or restore"}},
	{"invalid-bad-name.yaml", []string{"45:11: spares[0].name: invalid name \"spare 1\": use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters"}},
	{"invalid-bad-size-fraction.yaml", []string{"74:32: services[0].container.limits.memory: invalid size \"0.25GiB\": write a number with a unit, such as 512MiB, 4GiB or 1G"}},
	{"invalid-bad-size.yaml", []string{"43:39: standby[0].capacity.memory: invalid size \"512 megs\": write a number with a unit, such as 512MiB, 4GiB or 1G"}},
	{"invalid-capacity-containers.yaml", []string{"43:28: standby[0].capacity.containers: 2 warm services are assigned to standby \"standby-1\", it holds 1 (warm containers always run)"}},
	{"invalid-capacity-memory.yaml", []string{"43:39: standby[0].capacity.memory: the warm services assigned to standby \"standby-1\" need 512MiB of memory, it has 500MB (warm containers always run)"}},
	{"invalid-check-bad-path.yaml", []string{"60:26: services[0].check.http.path: \"health\" must start with /"}},
	{"invalid-check-bad-status.yaml", []string{"60:50: services[0].check.http.expect-status: must be from 100 to 599, got 2000"}},
	{"invalid-check-both.yaml", []string{"80:12: services[1].check: set http or tcp, not both"}},
	{"invalid-check-none.yaml", []string{"76:5: services[1].check: required: http or tcp"}},
	{"invalid-config-limits.yaml", []string{"75:31: services[0].container.config.limits.memory: set it with container.limits, not config"}},
	{"invalid-config-raw-lxc.yaml", []string{"75:25: services[0].container.config.raw.lxc: \"raw.lxc=lxc.apparmor.profile=unconfined\" is not an allowed instance config key (allowed: environment.*, limits.*, user.*, cloud-init.*, boot.*, snapshots.*, security.nesting=false, security.privileged=false)"}},
	{"invalid-data-disk-relative.yaml", []string{"92:43: services[1].container.data-disk.path: \"data\" must be an absolute path"}},
	{"invalid-duplicate-address.yaml", []string{"38:14: vms[1].address: duplicate VM address \"10.200.0.11\" (first used at line 35)"}},
	{"invalid-duplicate-fqdn.yaml", []string{"77:11: services[1].fqdn: duplicate fqdn \"web.lab.test.\" (first used at line 57)"}},
	{"invalid-duplicate-key.yaml", []string{"60:5: services[0].port: key \"port\" appears twice"}},
	{"invalid-duplicate-name.yaml", []string{"36:11: vms[1].name: duplicate VM name \"web-vm\" (first used at line 32)"}},
	{"invalid-duplicate-port.yaml", []string{"79:11: services[1].port: duplicate port on VM \"web-vm:80\" (first used at line 59)"}},
	{"invalid-empty.yaml", []string{"1:1: empty inventory"}},
	{"invalid-etcd-no-endpoints.yaml", []string{"19:5: monitor.etcd.endpoints: required: at least one etcd client URL"}},
	{"invalid-fails-zero.yaml", []string{"15:10: monitor.fails: must be from 1 to 1000, got 0"}},
	{"invalid-cost.yaml", []string{
		"101:13: cost.vm-month: must be a positive price, got -5",
		"102:13: cost.currency: must be a currency code of three capital letters (USD, EUR, JPY), got \"usd\"",
	}},
	{"invalid-fast-interval-above-interval.yaml", []string{"15:18: monitor.fast-interval: must be from 0s (off) to monitor.interval (250ms), got 300ms"}},
	{"invalid-fence-command-missing.yaml", []string{"76:5: services[1].fence-command: required with fence: command"}},
	{"invalid-fence-command-unused.yaml", []string{"68:20: services[0].fence-command: only used with fence: command"}},
	{"invalid-fence-required-none.yaml", []string{"68:21: services[0].fence-required: needs fence: hypervisor or command, not none"}},
	{"invalid-five-mistakes.yaml", []string{
		"6:3: dns.tsig-keyfile: unknown key, did you mean \"tsig-key-file\"?",
		"13:13: monitor.interval: invalid duration \"250\": write a number with a unit, such as 250ms, 10s or 1h",
		"62:11: services[0].mode: invalid mode \"hot\": want warm, cold or restore",
		"78:9: services[1].vm: unknown VM \"apivm\"",
		"79:11: services[1].port: must be from 1 to 65535, got 80800",
	}},
	{"invalid-fqdn-outside-zone.yaml", []string{"77:11: services[1].fqdn: \"api.example.com.\" is outside zone \"lab.test.\""}},
	{"invalid-incus-both.yaml", []string{"26:12: hypervisors[0].incus: set socket or url, not both"}},
	{"invalid-incus-neither.yaml", []string{"45:5: spares[0].incus: required: socket or url"}},
	{"invalid-incus-url-no-cert.yaml", []string{
		"30:12: hypervisors[1].incus.client-cert: required",
		"30:12: hypervisors[1].incus.client-key: required",
	}},
	{"invalid-incus-url-no-server-cert.yaml", []string{"30:12: hypervisors[1].incus.server-cert: required with url: the connection pins the daemon's certificate and refuses to work without it"}},
	{"invalid-limits-no-memory.yaml", []string{"74:15: services[0].container.limits.memory: required: the standby VM's capacity is checked against it"}},
	{"invalid-merge-key.yaml", []string{"36:5: vms[1].<<: merge keys (<<) are not supported"}},
	{"invalid-missing-required.yaml", []string{"56:5: services[0].fqdn: required"}},
	{"invalid-missing-section.yaml", []string{"76:5: services[1].container: required: image and limits"}},
	{"invalid-negative-duration.yaml", []string{"71:21: services[0].max-on-standby: duration -1h must not be negative"}},
	{"invalid-playbook-missing.yaml", []string{"88:15: services[1].playbook: cannot read playbook: open $DIR/missing-playbook.yaml: no such file or directory"}},
	{"invalid-overload-not-number.yaml", []string{"94:46: migration.overload.load: expected a number, got \"high\""}},
	{"invalid-overload-steal.yaml", []string{"94:36: migration.overload.steal: must be above 0 and at most 100 (percent), got 150"}},
	{"invalid-migration-live.yaml", []string{"98:9: migration.live: invalid live migration policy \"sometimes\": want auto or never"}},
	{"invalid-max-parallel.yaml", []string{"96:17: migration.max-parallel: must be from 1 to 100, got 0"}},
	{"invalid-port-out-of-range.yaml", []string{"79:11: services[1].port: must be from 1 to 65535, got 80800"}},
	{"invalid-service-unknown-standby.yaml", []string{"81:14: services[1].standby: unknown standby VM \"standby-2\""}},
	{"invalid-service-unknown-vm.yaml", []string{"78:9: services[1].vm: unknown VM \"apivm\""}},
	{"invalid-spare-agent-url.yaml", []string{"46:12: spares[0].agent: invalid URL \"127.0.0.1:9445\": want https://host:port"}},
	{"invalid-standby-agent-http.yaml", []string{"41:12: standby[0].agent: invalid URL \"http://127.0.0.1:9443\": want https://host:port"}},
	{"invalid-proxy-reroute.yaml", []string{
		"64:20: services[0].proxy-reroute: proxy-reroute: warm is refused for a stateful service (stateful: true or a data disk): the proxy would send requests to the standby while the primary still runs",
		"85:20: services[1].proxy-reroute: proxy-reroute: warm needs mode warm, got mode \"cold\"",
	}},
	{"invalid-standby-no-agent.yaml", []string{"40:5: standby[0].agent: required"}},
	{"invalid-timeout-not-below-interval.yaml", []string{"14:12: monitor.timeout: must be shorter than monitor.interval (250ms), got 250ms"}},
	{"invalid-tsig-missing.yaml", []string{"6:18: dns.tsig-key-file: cannot read TSIG key file: open $DIR/missing.key: no such file or directory"}},
	{"invalid-tsig-not-key-file.yaml", []string{"6:18: dns.tsig-key-file: TSIG key file $DIR/playbook.yaml is not a BIND key file: want key \"NAME\" { algorithm ...; secret \"...\"; };"}},
	{"invalid-ttl-fraction.yaml", []string{"7:8: dns.ttl: must be a whole number of seconds from 1s to 24h, got 1.5s"}},
	{"invalid-two-documents.yaml", []string{"3:1: only one YAML document is allowed"}},
	{"invalid-unknown-key-far.yaml", []string{"8:3: dns.colour: unknown key; known keys: server, timeout, tsig-key-file, ttl, verify, zone"}},
	{"invalid-unknown-key.yaml", []string{"6:3: dns.tsig-keyfile: unknown key, did you mean \"tsig-key-file\"?"}},
	{"invalid-vm-unknown-hypervisor.yaml", []string{"37:17: vms[1].hypervisor: unknown hypervisor \"host-c\""}},
	{"invalid-wrong-type-bool.yaml", []string{"2:6: lab: expected true or false, got \"maybe\""}},
	{"invalid-wrong-type-int.yaml", []string{"59:11: services[0].port: expected an integer, got \"eighty\""}},
	{"invalid-wrong-type-mapping.yaml", []string{"43:15: standby[0].capacity: expected a mapping, got a sequence"}},
	{"invalid-wrong-type-sequence.yaml", []string{"8:11: dns.verify: expected a sequence, got \"127.0.0.1:5354\""}},
	{"invalid-wrong-type-string.yaml", []string{"63:11: services[0].role: expected a string, got a mapping"}},
	{"invalid-yaml-syntax.yaml", []string{"5:1: invalid YAML: did not find expected ',' or ']'"}},
}

func TestLoadInvalid(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range invalidCases {
		t.Run(strings.TrimSuffix(tc.file, ".yaml"), func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			inv, err := inventory.Load(path)
			if inv != nil {
				t.Errorf("Load returned an inventory along with errors")
			}
			var errs inventory.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load(%s) = %v, want inventory.Errors", path, err)
			}
			got := strings.Split(errs.Error(), "\n")
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = path + ":" + strings.ReplaceAll(w, "$DIR", dir)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, e := range errs {
				if e.File != path || e.Line < 1 || e.Col < 1 {
					t.Errorf("error %q lacks its position: file %q line %d col %d", e.Msg, e.File, e.Line, e.Col)
				}
			}
		})
	}
}

// TestInvalidCasesCoverTestdata keeps the table and the files in step.
func TestInvalidCasesCoverTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inTable := map[string]bool{}
	for _, tc := range invalidCases {
		inTable[tc.file] = true
	}
	for _, f := range files {
		if !inTable[filepath.Base(f)] {
			t.Errorf("%s has no entry in invalidCases", f)
		}
		delete(inTable, filepath.Base(f))
	}
	for f := range inTable {
		t.Errorf("invalidCases names %s, which does not exist", f)
	}
}

func TestFiveMistakesGiveFiveErrors(t *testing.T) {
	_, err := inventory.Load("testdata/invalid-five-mistakes.yaml")
	var errs inventory.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load = %v, want inventory.Errors", err)
	}
	if len(errs) != 5 {
		t.Fatalf("got %d errors, want 5:\n%v", len(errs), errs)
	}
	for i := 1; i < len(errs); i++ {
		if errs[i-1].Line > errs[i].Line {
			t.Errorf("errors not sorted by position: line %d before line %d", errs[i-1].Line, errs[i].Line)
		}
	}
}

// TestParseSkipsFileChecks: Parse validates everything but the file system.
func TestParseSkipsFileChecks(t *testing.T) {
	for _, name := range []string{"invalid-tsig-missing.yaml", "invalid-playbook-missing.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inventory.Parse(filepath.Join("testdata", name), data); err != nil {
			t.Errorf("Parse(%s) = %v, want no error (files are not checked)", name, err)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := inventory.Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want an error wrapping os.ErrNotExist", err)
	}
	var errs inventory.Errors
	if errors.As(err, &errs) {
		t.Errorf("Load of a missing file returned inventory.Errors %v", errs)
	}
}

// TestErrorFormat pins FILE:LINE:COL: path: message.
func TestErrorFormat(t *testing.T) {
	es := inventory.Errors{
		{File: "a.yaml", Line: 3, Col: 5, Path: "dns.zone", Msg: "required"},
		{File: "a.yaml", Line: 1, Col: 1, Msg: "empty inventory"},
	}
	want := "a.yaml:3:5: dns.zone: required\na.yaml:1:1: empty inventory"
	if got := es.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
