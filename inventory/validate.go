package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/understudy/understudy/internal/yamlpos"
)

// validate checks the decoded, defaulted inventory and records every problem.
// The checks of one part live in the function named after it.
func (d *decoder) validate(inv *Inventory) {
	d.checkDNS(&inv.DNS)
	d.checkMonitor(&inv.Monitor)
	d.checkHypervisors(inv.Hypervisors)
	d.checkVMs(inv)
	d.checkStandby(inv.Standby)
	d.checkSpares(inv.Spares)
	t := inv.Monitor.APITLS
	d.checkProxy(&inv.Proxy, t.CA != "" && t.Cert != "" && t.Key != "")
	d.checkMigration(&inv.Migration)
	d.checkServices(inv)
	d.checkCapacity(inv)
	d.checkMoveHooks(inv)
	d.checkCost(&inv.Cost)
}

// checkCost checks the optional price of a VM: a positive vm-month with a
// currency of three capital letters (ISO 4217, e.g. USD, EUR, JPY).
func (d *decoder) checkCost(x *Cost) {
	if d.Has("cost.vm-month") && x.VMMonth <= 0 {
		d.ErrPath("cost.vm-month", "must be a positive price, got %v", x.VMMonth)
	}
	if d.Has("cost.currency") && !isCurrency(x.Currency) {
		d.ErrPath("cost.currency", "must be a currency code of three capital letters (USD, EUR, JPY), got %q", x.Currency)
	}
	if d.Has("cost") && !d.Has("cost.vm-month") {
		d.ErrPath("cost.vm-month", "required with cost: the price of one VM for a month")
	}
}

// isCurrency reports whether s is three capital ASCII letters.
func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func (d *decoder) checkDNS(x *DNS) {
	if d.required("dns.server", x.Server) {
		// A server without a port is the standard DNS port.
		if noPort(x.Server) {
			x.Server = net.JoinHostPort(strings.Trim(x.Server, "[]"), "53")
		}
		d.hostPort("dns.server", x.Server, false)
	}
	d.dnsName("dns.zone", x.Zone)
	d.required("dns.tsig-key-file", x.TSIGKeyFile)
	if x.TTL%time.Second != 0 || x.TTL < time.Second || x.TTL > 24*time.Hour {
		d.ErrPath("dns.ttl", "must be a whole number of seconds from 1s to 24h, got %s", x.TTL)
	}
	for i, s := range x.Verify {
		d.hostPort(yamlpos.Index("dns.verify", i), s, false)
	}
	d.positive("dns.timeout", x.Timeout)
}

func (d *decoder) checkMonitor(x *Monitor) {
	d.hostPort("monitor.listen", x.Listen, true)
	d.positive("monitor.interval", x.Interval)
	switch {
	case !d.Has("monitor.timeout") && x.Interval <= 0:
		// The timeout follows the interval, which was reported.
	case !d.positive("monitor.timeout", x.Timeout):
	case x.Interval > 0 && x.Timeout >= x.Interval:
		d.ErrPath("monitor.timeout", "must be shorter than monitor.interval (%s), got %s", x.Interval, x.Timeout)
	}
	d.intRange("monitor.fails", x.Fails, 1, 1000)
	if x.HostWindow < 0 || x.HostWindow > time.Minute {
		d.ErrPath("monitor.host-window", "must be from 0s (off) to 1m, got %s", x.HostWindow)
	}
	if x.FastInterval < 0 || (x.Interval > 0 && x.FastInterval > x.Interval) {
		d.ErrPath("monitor.fast-interval", "must be from 0s (off) to monitor.interval (%s), got %s", x.Interval, x.FastInterval)
	}
	d.intRange("monitor.max-parallel-activations", x.MaxParallelActivations, 1, 1000)
	d.intRange("monitor.passes", x.Passes, 1, 1000)
	d.allOrNone("monitor.agent-tls", x.AgentTLS)
	d.allOrNone("monitor.api-tls", x.APITLS)
	d.allOrNone("monitor.api-client-tls", x.APIClientTLS)
	if x.APITLS.IsZero() && !x.APIClientTLS.IsZero() {
		d.ErrPath("monitor.api-client-tls", "set it only with monitor.api-tls")
	}
	if !x.APITLS.IsZero() && x.APIClientTLS.IsZero() {
		d.WarnPath("monitor.api-tls", "without monitor.api-client-tls the CLI, drill and proxies present the monitors' own certificate, so the API cannot tell them from a monitor (their vantage reports would count as a monitor's); give them a client certificate of their own")
	}
	d.checkAPIAuth(x)
	if x.Etcd != nil {
		if len(x.Etcd.Endpoints) == 0 {
			d.ErrPath("monitor.etcd.endpoints", "required: at least one etcd client URL")
		}
		for i, e := range x.Etcd.Endpoints {
			d.url(yamlpos.Index("monitor.etcd.endpoints", i), e, "http", "https")
		}
		if (x.Etcd.TLS.Cert == "") != (x.Etcd.TLS.Key == "") {
			d.ErrPath("monitor.etcd.tls", "set cert and key together")
		}
	}
	d.intRange("monitor.flap.max", x.Flap.Max, 1, 1000)
	d.positive("monitor.flap.window", x.Flap.Window)
	if x.AlertURL != "" {
		// The URL may carry a token: the message does not repeat it.
		if u, err := url.Parse(x.AlertURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			d.ErrPath("monitor.alert-url", "invalid URL: want http://host/path or https://host/path")
		}
	}
}

// allOrNone checks that a TLSFiles has all three files or none.
func (d *decoder) allOrNone(path string, t TLSFiles) {
	n := 0
	for _, f := range []string{t.CA, t.Cert, t.Key} {
		if f != "" {
			n++
		}
	}
	if n != 0 && n != 3 {
		d.ErrPath(path, "set ca, cert and key together")
	}
}

// checkIncus checks that exactly one of socket and url is set, with the files a URL needs.
func (d *decoder) checkIncus(path string, x Incus) {
	switch {
	case x.Socket != "" && x.URL != "":
		d.ErrPath(path, "set socket or url, not both")
	case x.Socket == "" && x.URL == "":
		d.ErrPath(path, "required: socket or url")
	case x.Socket != "":
		for key, v := range map[string]string{"client-cert": x.ClientCert, "client-key": x.ClientKey, "server-cert": x.ServerCert} {
			if v != "" {
				d.ErrPath(yamlpos.Join(path, key), "only used with url, not with socket")
			}
		}
	default:
		d.url(yamlpos.Join(path, "url"), x.URL, "https")
		d.required(yamlpos.Join(path, "client-cert"), x.ClientCert)
		d.required(yamlpos.Join(path, "client-key"), x.ClientKey)
		if x.ServerCert == "" {
			d.ErrPath(yamlpos.Join(path, "server-cert"), "required with url: the connection pins the daemon's certificate and refuses to work without it")
		}
	}
}

func (d *decoder) checkHypervisors(hs []Hypervisor) {
	names, addrs := d.unique("hypervisor name"), d.unique("hypervisor address")
	for i, h := range hs {
		p := yamlpos.Index("hypervisors", i)
		if d.name(yamlpos.Join(p, "name"), h.Name) {
			names.add(yamlpos.Join(p, "name"), h.Name)
		}
		d.ip(yamlpos.Join(p, "address"), h.Address)
		addrs.add(yamlpos.Join(p, "address"), h.Address)
		d.name(yamlpos.Join(p, "zone"), h.Zone)
		d.checkIncus(yamlpos.Join(p, "incus"), h.Incus)
	}
}

func (d *decoder) checkVMs(inv *Inventory) {
	names, addrs := d.unique("VM name"), d.unique("VM address")
	for i, vm := range inv.VMs {
		p := yamlpos.Index("vms", i)
		if d.name(yamlpos.Join(p, "name"), vm.Name) {
			names.add(yamlpos.Join(p, "name"), vm.Name)
		}
		if d.required(yamlpos.Join(p, "hypervisor"), vm.Hypervisor) && inv.Hypervisor(vm.Hypervisor) == nil {
			d.ErrPath(yamlpos.Join(p, "hypervisor"), "unknown hypervisor %q", vm.Hypervisor)
		}
		if vm.Instance != "" && !instanceRE.MatchString(vm.Instance) {
			why := ""
			if !d.Has(yamlpos.Join(p, "instance")) {
				why = " (the instance name defaults to the VM's name; set instance)"
			}
			d.ErrPath(yamlpos.Join(p, "instance"), "invalid instance name %q: use letters, digits and '-', starting with a letter, at most 63 characters%s", vm.Instance, why)
		}
		d.ip(yamlpos.Join(p, "address"), vm.Address)
		addrs.add(yamlpos.Join(p, "address"), vm.Address)
	}
}

func (d *decoder) checkStandby(ss []Standby) {
	names := d.unique("standby name")
	for i, s := range ss {
		p := yamlpos.Index("standby", i)
		if d.name(yamlpos.Join(p, "name"), s.Name) {
			names.add(yamlpos.Join(p, "name"), s.Name)
		}
		if d.required(yamlpos.Join(p, "agent"), s.Agent) {
			d.url(yamlpos.Join(p, "agent"), s.Agent, "https")
		}
		d.name(yamlpos.Join(p, "zone"), s.Zone)
		if !d.Has(yamlpos.Join(p, "capacity")) {
			d.ErrPath(yamlpos.Join(p, "capacity"), "required: containers and memory")
		} else if s.Capacity.Containers < 1 {
			d.ErrPath(yamlpos.Join(p, "capacity.containers"), "required: at least 1 container")
		}
		if d.Has(yamlpos.Join(p, "capacity")) && s.Capacity.Memory <= 0 {
			d.ErrPath(yamlpos.Join(p, "capacity.memory"), "required: the memory available to service containers")
		}
		if d.Has(yamlpos.Join(p, "incus")) {
			d.checkIncus(yamlpos.Join(p, "incus"), s.Incus)
		}
		if s.Network != nil {
			d.checkNetwork(yamlpos.Join(p, "network"), *s.Network)
		}
	}
}

func (d *decoder) checkSpares(ss []Spare) {
	names := d.unique("spare name")
	for i, s := range ss {
		p := yamlpos.Index("spares", i)
		if d.name(yamlpos.Join(p, "name"), s.Name) {
			names.add(yamlpos.Join(p, "name"), s.Name)
		}
		d.name(yamlpos.Join(p, "zone"), s.Zone)
		if d.Has(yamlpos.Join(p, "agent")) {
			d.url(yamlpos.Join(p, "agent"), s.Agent, "https")
		}
		d.checkIncus(yamlpos.Join(p, "incus"), s.Incus)
		if s.Network != nil {
			d.checkNetwork(yamlpos.Join(p, "network"), *s.Network)
		}
		if s.Capacity.Containers < 0 {
			d.ErrPath(yamlpos.Join(p, "capacity.containers"), "must not be negative, got %d", s.Capacity.Containers)
		}
	}
}

// checkProxy checks the proxy section; apiTLS says the monitor's API serves
// HTTPS only (monitor.api-tls), so its URLs must be https.
func (d *decoder) checkProxy(x *Proxy, apiTLS bool) {
	if x.Listen != "" {
		d.hostPort("proxy.listen", x.Listen, true)
	}
	if d.Has("proxy.monitor") {
		if len(x.Monitors) == 0 {
			d.ErrPath("proxy.monitor", "required: at least one monitor URL")
		}
		for i, u := range x.Monitors {
			p := "proxy.monitor"
			if len(x.Monitors) > 1 {
				p = yamlpos.Index(p, i)
			}
			if d.url(p, u, "http", "https") && apiTLS && !strings.HasPrefix(strings.ToLower(u), "https://") {
				d.ErrPath(p, "invalid URL %q: want https:// while monitor.api-tls is set", u)
			}
		}
	}
	d.positive("proxy.probe-timeout", x.ProbeTimeout)
	d.positive("proxy.hold", x.Hold)
	d.intRange("proxy.queue", x.Queue, 1, 1000000)
}

func (d *decoder) checkMigration(x *Migration) {
	d.checkOverload("migration.overload", x.Overload)
	if x.TargetMaxSteal < 0 || x.TargetMaxSteal > 100 {
		d.ErrPath("migration.target-max-steal", "must be from 0 to 100 (percent; 0: no ceiling), got %g", x.TargetMaxSteal)
	}
	d.intRange("migration.max-parallel", x.MaxParallel, 1, 100)
	d.oneOf("migration.live", "live migration policy", string(x.Live), string(LiveAuto), string(LiveNever))
	if d.Has("migration.bandwidth") && x.Bandwidth <= 0 {
		d.ErrPath("migration.bandwidth", "must be greater than 0; leave it out for no cap")
	}
}

// checkNetwork checks a static address pool: a gateway, a prefix length and
// a FIRST-LAST range of IPv4 addresses inside the gateway's subnet.
func (d *decoder) checkNetwork(path string, n Network) {
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil || !gw.Is4() {
		d.ErrPath(yamlpos.Join(path, "gateway"), "must be an IPv4 address, got %q", n.Gateway)
		return
	}
	if n.PrefixLen < 1 || n.PrefixLen > 32 {
		d.ErrPath(yamlpos.Join(path, "prefix-len"), "must be from 1 to 32, got %d", n.PrefixLen)
		return
	}
	first, last, err := ParsePool(n.Pool)
	if err != nil {
		d.ErrPath(yamlpos.Join(path, "pool"), "%v", err)
		return
	}
	subnet := netip.PrefixFrom(gw, n.PrefixLen).Masked()
	if !subnet.Contains(first) || !subnet.Contains(last) {
		d.ErrPath(yamlpos.Join(path, "pool"), "%s is not inside %s", n.Pool, subnet)
	}
}

// ParsePool reads an inclusive address range "FIRST-LAST".
func ParsePool(pool string) (first, last netip.Addr, err error) {
	a, b, ok := strings.Cut(pool, "-")
	if ok {
		first, err = netip.ParseAddr(strings.TrimSpace(a))
	}
	if ok && err == nil {
		last, err = netip.ParseAddr(strings.TrimSpace(b))
	}
	if !ok || err != nil || !first.Is4() || !last.Is4() || last.Less(first) {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("must be a range FIRST-LAST of IPv4 addresses, got %q", pool)
	}
	return first, last, nil
}
