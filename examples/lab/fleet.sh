# fleet.sh: the lab's fleet, sourced by lab.sh (`lab.sh fleet`, or
# `LAB_FLEET=1 lab.sh up`). It turns the lab into a small site: 24 primary
# "VMs" (busybox service containers), 16 on host-a (zone az1) and 8 on host-b
# (zone az2), all protected by the one shared standby VM standby-1 through a
# second standby agent of its own (the demo's agent keeps web and api; an
# agent serves one monitor's fencing epoch), spare-1 kept as the spare.
#
# Everything is derived from the index i (1..FLEET_N) by the fleet_*
# functions, so lab.sh, reset-dns and the generated examples/lab/fleet.yaml
# agree: service fNN, instance fNN-vm, record fNN.lab.test., its address,
# mode, memory limit and priority. The layout is in HACKING.md's lab table.
#
# The standby capacity is chosen so that host-a's loss fits and the loss of
# both hosts does not, by slots and by memory: host-a's 16 services need 16
# slots and 2304 MiB, all 24 need 24 slots and 3456 MiB; standby-1's fleet
# agent holds 20 containers and 2560 MiB. Its 8 warm services (768 MiB) run
# all the time.

FLEET_N=24           # services
FLEET_ON_A=16        # the first FLEET_ON_A on host-a, the rest on host-b
FLEET_PARALLEL=${LAB_FLEET_PARALLEL:-8} # instances created at once
FLEET_AGENT_PORT=9445   # the fleet's standby agent on standby-1
FLEET_MONITOR=127.0.0.1:9190
FLEET_PROXY=127.0.0.1:8090
FLEET_CAPACITY='{containers: 20, memory: 2560MiB}'
FLEET_POOL=${SUBNET[standby-1]}.30-${SUBNET[standby-1]}.69 # the fleet agent's standby addresses
FLEET_SPARE_POOL=${SUBNET[spare-1]}.30-${SUBNET[spare-1]}.69
# host-a's management address in fleet.yaml, on the far side of its bridge
# (fleet_mgmt_up): the host-down fault cuts it with the host's VMs.
FLEET_MGMT_NS=us-host-a-mgmt
FLEET_MGMT_LINK=us-host-a-mg
FLEET_MGMT_IP=${SUBNET[host-a]}.119

# fleet_name I prints the service's name, e.g. f07.
fleet_name() { printf 'f%02d' "$1"; }

# fleet_host I prints the hypervisor of service I's primary.
fleet_host() { if [ "$1" -le $FLEET_ON_A ]; then echo host-a; else echo host-b; fi; }

# fleet_zone I prints its hypervisor's zone.
fleet_zone() { if [ "$1" -le $FLEET_ON_A ]; then echo az1; else echo az2; fi; }

# fleet_ip I prints its primary's address: host-a 10.200.0.21-.36, host-b
# 10.200.3.11-.18 (outside every range HACKING.md reserves, and outside the
# bridges' DHCP ranges .200-.254).
fleet_ip() {
	if [ "$1" -le $FLEET_ON_A ]; then
		echo "${SUBNET[host-a]}.$((20 + $1))"
	else
		echo "${SUBNET[host-b]}.$((10 + $1 - FLEET_ON_A))"
	fi
}

# fleet_mode I prints warm for every third service (f01, f04, ...), else cold.
fleet_mode() { if [ $(($1 % 3)) = 1 ]; then echo warm; else echo cold; fi; }

# fleet_memory I prints its container's memory limit (64, 128, 128, 256 MiB in turn).
fleet_memory() {
	case $(($1 % 4)) in
	1) echo 64MiB ;;
	0) echo 256MiB ;;
	*) echo 128MiB ;;
	esac
}

# fleet_priority I prints its priority, spread over 100..1000.
fleet_priority() { echo $(((($1 * 37) % 10 + 1) * 100)); }

# fleet_up creates and starts the fleet's primaries in parallel (at most
# FLEET_PARALLEL at once), waits until every one answers HTTP, points the
# records at them and writes fleet.yaml and the fleet agent's config.
fleet_up() {
	local t0=$EPOCHREALTIME i failed=0 running=0
	for i in $(seq $FLEET_N); do
		if [ $running -ge "$FLEET_PARALLEL" ]; then
			wait -n || failed=$((failed + 1))
			running=$((running - 1))
		fi
		ensure_instance "$(fleet_host "$i")" "$(fleet_name "$i")-vm" "$(fleet_ip "$i")" &
		running=$((running + 1))
	done
	while [ $running -gt 0 ]; do
		wait -n || failed=$((failed + 1))
		running=$((running - 1))
	done
	[ $failed = 0 ] || die "fleet: $failed of $FLEET_N primaries could not be created or started"
	fleet_wait_http
	fleet_records
	fleet_mgmt_up
	mkdir -p "$LAB_DIR/fleet-agent-state" "$LAB_DIR/fleet-monitor"
	write_fleet_configs
	touch "$FLEET_STATE"
	local us=$((${EPOCHREALTIME/./} - ${t0/./}))
	step "fleet up in $((us / 1000000)).$((us / 100000 % 10)) s: $FLEET_N primaries answer HTTP ($FLEET_ON_A on host-a, $((FLEET_N - FLEET_ON_A)) on host-b); inventory $FLEET_INVENTORY"
}

# fleet_mgmt_up gives host-a a management address on the far side of its
# bridge: a network namespace whose one veth port is on us-host-a, holding
# FLEET_MGMT_IP. The bridge's own address (10.200.0.1) stays local while the
# bridge is down, so it answers ICMP through a host-down drill, and the
# hypervisor's API is a unix socket: with either as the hypervisor's
# address the monitor's hypervisor target never fails, and the drill shows
# as 16 VMDown findings instead of one HostDown. The management address
# goes silent with the bridge, as a real host's does when it dies.
# Idempotent; cmd_down removes it (fleet_mgmt_down).
fleet_mgmt_up() {
	local ns=$FLEET_MGMT_NS
	[ -e "/run/netns/$ns" ] || ip netns add "$ns" || die "fleet: create network namespace $ns"
	if ! ip link show "$FLEET_MGMT_LINK" >/dev/null 2>&1; then
		ip link add "$FLEET_MGMT_LINK" type veth peer name eth0 netns "$ns" ||
			die "fleet: create veth $FLEET_MGMT_LINK into $ns"
	fi
	ip link set "$FLEET_MGMT_LINK" master us-host-a up &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr replace "$FLEET_MGMT_IP/24" dev eth0 &&
		ip -n "$ns" link set eth0 up ||
		die "fleet: host-a's management address $FLEET_MGMT_IP on us-host-a"
	step "fleet: host-a's management address $FLEET_MGMT_IP (namespace $ns, port $FLEET_MGMT_LINK on us-host-a)"
}

# fleet_mgmt_down removes host-a's management address (and its veth).
fleet_mgmt_down() { ip netns del "$FLEET_MGMT_NS" 2>/dev/null || true; }

# fleet_wait_http waits until every fleet primary answers its name.
fleet_wait_http() {
	local i deadline=$((SECONDS + WAIT_HTTP)) pending
	while :; do
		pending=()
		for i in $(seq $FLEET_N); do
			[ "$(http_get "$(fleet_ip "$i")")" = "$(fleet_name "$i")-vm" ] || pending+=("$(fleet_name "$i")-vm")
		done
		[ ${#pending[@]} = 0 ] && return 0
		[ $SECONDS -ge $deadline ] && die "fleet: no HTTP answer from ${pending[*]} within ${WAIT_HTTP}s"
		sleep 0.2
	done
}

# fleet_records points every fleet record at its primary, in one signed
# update of BIND (the secondary follows on NOTIFY).
fleet_records() {
	local i
	{
		echo "server $DNS_ADDR $DNS_PORT"
		echo "zone $ZONE."
		for i in $(seq $FLEET_N); do
			echo "update delete $(fleet_name "$i").$ZONE. A"
			echo "update add $(fleet_name "$i").$ZONE. $TTL A $(fleet_ip "$i")"
		done
		echo send
	} | quiet nsupdate -k "$DNS_DIR/tsig.key" || die "fleet: nsupdate of the fleet's records"
	step "dns: f01..$(fleet_name $FLEET_N).$ZONE. point at their primaries"
}

# write_fleet_configs writes fleet.yaml and the fleet agent's config.
write_fleet_configs() {
	local changed=() i
	{
		cat <<-EOF
			# Generated by examples/lab/lab.sh fleet for the local lab; do not edit (git-ignored).
			# $FLEET_N services on host-a (az1) and host-b (az2), one shared standby VM (standby-1)
			# whose capacity holds host-a's loss (16 services, 2304 MiB) but not both hosts' (24, 3456 MiB).
			lab: true
			dns: {server: $DNS_ADDR:$DNS_PORT, zone: $ZONE., tsig-key-file: $DNS_DIR/tsig.key, ttl: ${TTL}s,
			      verify: [$DNS_ADDR:$DNS2_PORT]}
			monitor:
			  listen: $FLEET_MONITOR
			  state-dir: $LAB_DIR/fleet-monitor
			  interval: 250ms
			  timeout: 100ms
			  fails: 3
			  passes: 2
			  flap: {max: 50, window: 1h}
			  agent-tls: {ca: $LAB_DIR/pki/ca.crt, cert: $LAB_DIR/pki/monitor.crt, key: $LAB_DIR/pki/monitor.key}
			  api-tls: {ca: $LAB_DIR/pki/ca.crt, cert: $LAB_DIR/pki/monitor-api.crt, key: $LAB_DIR/pki/monitor-api.key}
			  api-client-tls: {ca: $LAB_DIR/pki/ca.crt, cert: $LAB_DIR/pki/operator.crt, key: $LAB_DIR/pki/operator.key}
			hypervisors:
			  - {name: host-a, address: $FLEET_MGMT_IP, zone: az1, incus: {socket: $LAB_DIR/host-a/unix.socket}}
			  - {name: host-b, address: ${SUBNET[host-b]}.1, zone: az2, incus: {socket: $LAB_DIR/host-b/unix.socket}}
			vms:
		EOF
		for i in $(seq $FLEET_N); do
			printf '  - {name: %s-vm, hypervisor: %s, instance: %s-vm, address: %s}\n' \
				"$(fleet_name "$i")" "$(fleet_host "$i")" "$(fleet_name "$i")" "$(fleet_ip "$i")"
		done
		cat <<-EOF
			standby:
			  - {name: standby-1, agent: https://127.0.0.1:$FLEET_AGENT_PORT, zone: az1, capacity: $FLEET_CAPACITY,
			     incus: {socket: $LAB_DIR/standby-1/unix.socket},
			     network: {gateway: ${SUBNET[standby-1]}.1, prefix-len: 24, pool: $FLEET_POOL}}
			spares:
			  - name: spare-1
			    zone: az1
			    capacity: {containers: 4, memory: 2GiB}
			    incus:
			      url: https://127.0.0.1:${PORT[spare-1]}
			      client-cert: $LAB_DIR/client.crt
			      client-key: $LAB_DIR/client.key
			      server-cert: $LAB_DIR/spare-1/server.crt
			    network: {gateway: ${SUBNET[spare-1]}.1, prefix-len: 24, pool: $FLEET_SPARE_POOL}
			proxy: {listen: $FLEET_PROXY}
			services:
		EOF
		for i in $(seq $FLEET_N); do
			printf '  - {name: %s, fqdn: %s.%s., vm: %s-vm, port: 80, check: {http: {path: /, expect-status: 200}},\n' \
				"$(fleet_name "$i")" "$(fleet_name "$i")" "$ZONE" "$(fleet_name "$i")"
			printf '     standby: standby-1, mode: %s, priority: %s, failback: manual,\n' "$(fleet_mode "$i")" "$(fleet_priority "$i")"
			printf '     container: {image: %s, limits: {cpu: 1, memory: %s}}}\n' "$IMAGE" "$(fleet_memory "$i")"
		done
	} | write_if_changed "$FLEET_INVENTORY" && changed+=("$FLEET_INVENTORY")
	write_if_changed "$LAB_DIR/fleet-agent.yaml" <<-EOF && changed+=("$LAB_DIR/fleet-agent.yaml")
		# Generated by examples/lab/lab.sh fleet: the fleet's standby agent on standby-1.
		name: standby-1
		listen: 127.0.0.1:$FLEET_AGENT_PORT
		tls:
		  cert: $LAB_DIR/pki/agent.crt
		  key: $LAB_DIR/pki/agent.key
		  client-ca: $LAB_DIR/pki/ca.crt
		incus: {socket: $LAB_DIR/standby-1/unix.socket}
		state-dir: $LAB_DIR/fleet-agent-state
		criu: {path: ${CRIU_BIN:-criu}}
		network:
		  gateway: ${SUBNET[standby-1]}.1
		  prefix-len: 24
		  pool: $FLEET_POOL
		capacity: $FLEET_CAPACITY
		max-parallel: 8
	EOF
	[ ${#changed[@]} = 0 ] || step "wrote ${changed[*]}"
}
