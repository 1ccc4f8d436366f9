package clidoc

import "strings"

// Command is one command of the CLI as the completion and the man pages
// show it.
type Command struct {
	Name, Summary string
	Help          string // the usage text the command prints for -h, without the flag list
	Flags         []Flag
	Subs          []Sub
}

// Sub is a subcommand with the flags it parses (its command's when it has
// none of its own).
type Sub struct {
	Name  string
	Own   bool   // it parses flags of its own, in a FlagSet named "COMMAND NAME"
	Usage string // its usage lines from the command's help
	Flags []Flag
}

// Flag is one flag as the completion and the man pages show it.
type Flag struct {
	Name    string
	Arg     string // the value's name from the usage (`FILE`), "" for a bool flag
	Usage   string
	Default string // "" when the default is the zero value
}

// Dashed returns the flag as the documentation writes it: -f, --name.
func (f Flag) Dashed() string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// Kind tells what the value names: "file", "dir" or "" (anything else).
func (f Flag) Kind() string {
	switch a := strings.ToUpper(f.Arg); {
	case a == "DIR":
		return "dir"
	case strings.HasSuffix(a, "FILE"):
		return "file"
	}
	return ""
}
