// Package spares decides where a service migrates and when a standby VM
// is overloaded. It is pure: Score ranks spare VMs for a service and says
// why each one lost; Detector decides from a history of samples whether a
// standby VM has been overloaded (CPU steal and load both high) for long
// enough to move services off it.
//
// It does no I/O and reads no clock: the caller collects the facts (the
// standby agent's and spares' /v1/capacity, the inventory's zones and roles)
// and passes the time in. It does not move anything: the incident core
// (package recover) decides a move and recover/executor performs it.
package spares
