package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// zshDriver types each case into an interactive zsh on a pseudo-terminal
// (zsh/zpty) with the script loaded, presses Tab, and waits until zsh has
// redrawn the line with the expected completion; then prints "ok: LINE".
// A completion that never comes blocks: the test's deadline ends it.
const zshDriver = `zmodload zsh/zpty
zpty -b z 'zsh -f -i'
zpty -w z "PS1='> '; autoload -U compinit; compinit -u -D; source ${1}; print READY"
zpty -r z line '*READY*'
zpty -r z line '*READY*'
check() {
	local typed=$1 want=$2
	zpty -w -n z "$typed"$'\t'
	zpty -r z out "*${typed% *} ${want}*" && print -r -- "ok: $typed"
	zpty -w -n z $'\C-u'
}
shift
while (( $# )); do check "$1" "$2"; shift 2; done
zpty -d z
`

// TestZshCompletionCompletes has zsh complete command lines with the
// script, through its real completion system.
func TestZshCompletionCompletes(t *testing.T) {
	zsh := needTool(t, "zsh")
	script := completionScript(t, "zsh")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inventory.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	driver := filepath.Join(dir, "driver.zsh")
	if err := os.WriteFile(driver, []byte(zshDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := [][2]string{
		{"understudy val", "validate"},
		{"understudy certs in", "init"},
		{"understudy certs issue --da", "--days"},
		{"understudy drill history --fi", "--file"},
		{"understudy dns --key-f", "--key-file"},
		{"understudy validate -f " + dir + "/inv", dir + "/inventory.yaml"},
	}
	args := []string{"-f", driver, script}
	for _, c := range cases {
		args = append(args, c[0], c[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, zsh, args...).CombinedOutput()
	for _, c := range cases {
		if !strings.Contains(string(out), "ok: "+c[0]+"\n") {
			t.Errorf("zsh did not complete %q to %q (%v); output:\n%s", c[0], c[1], err, out)
			break
		}
	}
}
