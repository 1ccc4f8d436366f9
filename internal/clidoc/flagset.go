package clidoc

import (
	"bytes"
	"flag"
	"os"
	"strings"
)

// FromFlagSet takes apart the text a command printed for -h, given the
// last FlagSet it created (nil when it created none): it returns the usage
// text without the flag list, and the flags of fs in the order
// PrintDefaults shows them. It sends fs's output to a buffer of its own.
func FromFlagSet(text string, fs *flag.FlagSet) (string, []Flag) {
	if fs == nil {
		return strings.TrimSpace(text), nil
	}
	var defaults bytes.Buffer
	fs.SetOutput(&defaults)
	fs.PrintDefaults()
	if d := defaults.String(); d != "" {
		if i := strings.Index(text, d); i >= 0 {
			text = text[:i]
		}
	}
	return trimHelp(text, fs.Name()), flagsOf(fs)
}

// trimHelp drops what introduces the flag list: flag's default "Usage of
// NAME:" line and a last line ending in a colon ("flags:").
func trimHelp(text, name string) string {
	text = strings.Replace(text, "Usage of "+name+":\n", "", 1)
	text = strings.TrimRight(text, "\n")
	if i := strings.LastIndexByte(text, '\n'); strings.HasSuffix(text, ":") {
		text = text[:i+1]
	}
	return strings.TrimSpace(text)
}

// flagsOf lists the flags of fs in the order PrintDefaults shows them. A
// default equal to this host's name is shown as "the host name", so that
// the build host's name never reaches the pages.
func flagsOf(fs *flag.FlagSet) []Flag {
	host, _ := os.Hostname()
	var out []Flag
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		c := Flag{Name: f.Name, Arg: arg, Usage: usage}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			c.Arg = "" // a back-quoted word in a bool flag's usage names no value
		}
		switch f.DefValue {
		case "", "0", "0s", "false":
		case host:
			c.Default = "the host name"
		default:
			c.Default = f.DefValue
		}
		out = append(out, c)
	})
	return out
}

// UsageOf returns the lines of help that show `understudy PREFIX`, joined
// with "; ".
func UsageOf(help, prefix string) string {
	var lines []string
	for _, l := range strings.Split(help, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "usage:"))
		if strings.HasPrefix(l, "understudy "+prefix+" ") || l == "understudy "+prefix {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
