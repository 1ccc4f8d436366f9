package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CRIUFile is where `lab.sh up` records whether the lab's standby-1 and
// spare-1 daemons run with the criu of examples/lab/criu-build.sh on their
// PATH (liblxc runs the first "criu" on its daemon's PATH): the criu's path,
// or "unavailable: REASON".
const CRIUFile = "criu"

// CRIU returns the path of the criu that the lab's standby-1 and spare-1
// daemons run, for an agent's criu.path, or "" and why there is none (the
// build failed on this machine, LAB_CRIU=0, daemons started without it, or
// a lab made before lab.sh recorded it).
func (l *Lab) CRIU() (path, why string) {
	f := filepath.Join(l.Dir, CRIUFile)
	b, err := os.ReadFile(f)
	if err != nil {
		return "", fmt.Sprintf("the lab records no criu (%v): `lab.sh up` writes it", err)
	}
	return parseCRIURecord(f, string(b))
}

// parseCRIURecord reads the content of the record file f.
func parseCRIURecord(f, content string) (path, why string) {
	line, _, _ := strings.Cut(strings.TrimSpace(content), "\n")
	switch {
	case strings.HasPrefix(line, "unavailable: "):
		return "", strings.TrimPrefix(line, "unavailable: ")
	case filepath.IsAbs(line):
		if _, err := os.Stat(line); err != nil {
			return "", fmt.Sprintf("%s names %s, which is gone (%v)", f, line, err)
		}
		return line, ""
	}
	return "", fmt.Sprintf("%s:1: want an absolute path or \"unavailable: REASON\", got %q", f, line)
}
