// Package clidoc writes understudy's shell completion scripts (bash, zsh,
// fish) and its man pages from a model of the commands: their names,
// summaries, help text, flags and subcommands. The generators are pure
// functions of that model; cmd/understudy builds it from the commands' own
// FlagSets (FromFlagSet) and help text, never from a copy.
package clidoc
