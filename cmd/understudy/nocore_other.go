//go:build !linux

package main

// disableCoreDumps does nothing outside Linux, where understudy's daemons do
// not run in production.
func disableCoreDumps() error { return nil }
