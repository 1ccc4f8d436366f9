// Package inventory reads and validates understudy's declarative inventory: the
// YAML file that names the DNS zone, the monitor's settings, the hypervisors,
// the protected VMs and their services, the shared standby VMs, the spare VMs
// and the proxy.
//
// Decoding is strict and works on yaml.v3 nodes, so every error carries the
// file, line and column and the field path (services[2].container.limits.memory).
// Unknown keys, wrong types, bad durations and sizes, dangling references,
// duplicate names, names outside the DNS zone, a missing TSIG key file and a
// standby VM too small for its services are all reported, every one at once,
// as an Errors value sorted by position.
//
// Load reads a file, applies the documented defaults (see README.md in this
// directory), makes relative file paths absolute against the inventory's
// directory, validates, and checks the files the monitor must read. Parse does
// the same on bytes already in memory, without touching the file system.
//
// The package does no I/O beyond reading the inventory and checking the files
// it names; it does not connect to DNS servers, agents or hypervisors.
package inventory
