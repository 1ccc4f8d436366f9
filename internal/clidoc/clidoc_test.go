package clidoc

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/labtest"
)

// fixture is a small command table with the shapes the generators handle:
// a command without flags, one with FILE and DIR flags, subcommands with
// and without flags of their own, and text that needs quoting in every
// output format (quotes, colons, brackets, backslashes, a leading dot).
func fixture() []Command {
	file := Flag{Name: "f", Arg: "FILE", Usage: "inventory `FILE` (it's: [required])"}
	return []Command{
		{Name: "version", Summary: "print the version", Help: "usage: understudy version"},
		{Name: "validate", Summary: "check an inventory", Help: "usage: understudy validate -f FILE [-q]\nChecks it.\n\n  indented line\n.starts with a dot",
			Flags: []Flag{file, {Name: "q", Usage: "print nothing \\ at all"}}},
		{Name: "certs", Summary: "make certificates: CA's", Help: "usage: understudy certs init|issue [flags]",
			Subs: []Sub{
				{Name: "init", Own: true, Usage: "understudy certs init --ca DIR", Flags: []Flag{{Name: "ca", Arg: "DIR", Usage: "CA directory"}}},
				{Name: "issue", Own: true, Usage: "understudy certs issue (a|b)", Flags: []Flag{{Name: "days", Arg: "N", Usage: "validity", Default: "365"}}},
			}},
		{Name: "dns", Summary: "ask or change DNS", Help: "usage:\n  understudy dns get NAME\n  understudy dns set NAME ADDR",
			Flags: []Flag{{Name: "server", Arg: "host:port", Usage: "primary"}},
			Subs:  []Sub{{Name: "get", Usage: "understudy dns get NAME"}, {Name: "set", Usage: "understudy dns set NAME ADDR"}}},
	}
}

// needTool is labtest.Tool for the tools examples/packaging/deps.sh
// installs.
func needTool(t *testing.T, name string) string {
	return labtest.Tool(t, name, "bash examples/packaging/deps.sh")
}

// TestCompletionScriptsParse checks each shell's script for the fixture
// with the shell's own syntax check (bash -n, zsh -n, fish -n).
func TestCompletionScriptsParse(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			write, ok := CompletionWriter(shell)
			if !ok {
				t.Fatalf("no writer for %s", shell)
			}
			var b bytes.Buffer
			if err := write(&b, fixture()); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"validate", "certs", "days"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("%s script lacks %q", shell, want)
				}
			}
			path := filepath.Join(t.TempDir(), "understudy."+shell)
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(needTool(t, shell), "-n", path).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Fatalf("%s -n: %v: %s\n%s", shell, err, out, b.String())
			}
		})
	}
}

func TestCompletionWriterRefusesOtherShells(t *testing.T) {
	if _, ok := CompletionWriter("tcsh"); ok {
		t.Error("tcsh has a completion writer")
	}
}

func TestGeneratorsRefuseNoCommands(t *testing.T) {
	for _, write := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return WriteBash(b, nil) },
		func(b *bytes.Buffer) error { return WriteZsh(b, nil) },
		func(b *bytes.Buffer) error { return WriteFish(b, nil) },
	} {
		var b bytes.Buffer
		if err := write(&b); !errors.Is(err, ErrNoCommands) || b.Len() != 0 {
			t.Errorf("err = %v, output %q; want ErrNoCommands and nothing", err, b.String())
		}
	}
}

// TestManPagesPassGroff writes the fixture's pages and checks them with
// groff's warnings (none allowed), and that each flag has its entry.
func TestManPagesPassGroff(t *testing.T) {
	dir := t.TempDir()
	cmds := fixture()
	n, err := WriteManPages(dir, "1.2-test", cmds)
	if err != nil || n != len(cmds)+1 {
		t.Fatalf("WriteManPages = %d, %v; want %d pages", n, err, len(cmds)+1)
	}
	groff := needTool(t, "groff")
	for _, name := range []string{"understudy.1", "understudy-validate.1", "understudy-certs.1", "understudy-dns.1", "understudy-version.1"} {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("page %s: %v", name, err)
		}
		if !strings.Contains(string(b), `"understudy 1.2\-test"`) {
			t.Errorf("%s does not show the version:\n%s", name, b)
		}
		out, err := exec.Command(groff, "-z", "-wall", "-man", path).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff -z -wall %s: %v: %s\n%s", name, err, out, b)
		}
	}
	certs, _ := os.ReadFile(filepath.Join(dir, "understudy-certs.1"))
	for _, want := range []string{".SH OPTIONS OF CERTS INIT", ".BI \"\\-\\-ca \" DIR", "validity (default: 365)"} {
		if !strings.Contains(string(certs), want) {
			t.Errorf("understudy-certs.1 lacks %q:\n%s", want, certs)
		}
	}
}

func TestWriteManPagesReportsAMissingDirectory(t *testing.T) {
	if _, err := WriteManPages(filepath.Join(t.TempDir(), "absent"), "dev", fixture()); err == nil {
		t.Error("wrote into a directory that does not exist")
	}
}

func TestFromFlagSet(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("f", "", "inventory `FILE`")
	fs.Bool("yes", false, "confirm a `lab: true` drill")
	fs.Int("days", 365, "validity")
	var text bytes.Buffer
	fs.SetOutput(&text)
	text.WriteString("usage: understudy x -f FILE\nDoes x.\n\nflags:\n")
	fs.PrintDefaults()
	help, flags := FromFlagSet(text.String(), fs)
	if help != "usage: understudy x -f FILE\nDoes x." {
		t.Errorf("help = %q", help)
	}
	want := []Flag{{Name: "days", Arg: "int", Usage: "validity", Default: "365"}, {Name: "f", Arg: "FILE", Usage: "inventory FILE"}, {Name: "yes", Usage: "confirm a lab: true drill"}}
	if !slices.Equal(flags, want) {
		t.Errorf("flags = %+v, want %+v", flags, want)
	}
	if help, flags := FromFlagSet("  usage: y\n", nil); help != "usage: y" || flags != nil {
		t.Errorf("without a FlagSet: %q, %v", help, flags)
	}
}

func TestFlagKindAndDashed(t *testing.T) {
	for _, tc := range []struct {
		f            Flag
		kind, dashed string
	}{
		{Flag{Name: "f", Arg: "FILE"}, "file", "-f"},
		{Flag{Name: "key-file", Arg: "file"}, "file", "--key-file"},
		{Flag{Name: "ca", Arg: "DIR"}, "dir", "--ca"},
		{Flag{Name: "server", Arg: "host:port"}, "", "--server"},
	} {
		if k, d := tc.f.Kind(), tc.f.Dashed(); k != tc.kind || d != tc.dashed {
			t.Errorf("%+v: kind %q dashed %q, want %q %q", tc.f, k, d, tc.kind, tc.dashed)
		}
	}
}

func TestUsageOf(t *testing.T) {
	help := "usage: understudy drill -f FILE\n       understudy drill history -f FILE\n  understudy drill history --file F"
	if got := UsageOf(help, "drill history"); got != "understudy drill history -f FILE; understudy drill history --file F" {
		t.Errorf("UsageOf = %q", got)
	}
}

func TestSplitHelp(t *testing.T) {
	syn, desc := splitHelp("usage: understudy x -f FILE\n       understudy x y\nDoes x.\n\nExit 0.")
	if want := []string{"understudy x -f FILE", "understudy x y"}; !slices.Equal(syn, want) {
		t.Errorf("synopsis = %q, want %q", syn, want)
	}
	if desc != "Does x.\n\nExit 0." {
		t.Errorf("description = %q", desc)
	}
	if syn, desc := splitHelp("usage:\n  understudy d get\n\nget asks"); !slices.Equal(syn, []string{"understudy d get"}) || desc != "get asks" {
		t.Errorf("split = %q, %q", syn, desc)
	}
}

func TestTrimHelp(t *testing.T) {
	for _, tc := range []struct{ in, name, want string }{
		{"Usage of certs init:\n", "certs init", ""},
		{"usage: x\n\nflags:\n", "x", "usage: x"},
		{"usage: x\nDoes x.\n", "x", "usage: x\nDoes x."},
	} {
		if got := trimHelp(tc.in, tc.name); got != tc.want {
			t.Errorf("trimHelp(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
