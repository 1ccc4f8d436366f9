package labtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCRIURecord(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		content, path, why string
	}{
		{exe + "\n", exe, ""},
		{"unavailable: the lab could not build criu: no criu source package in unstable\n", "", "the lab could not build criu: no criu source package in unstable"},
		{"/nonexistent/bin/criu\n", "", "F names /nonexistent/bin/criu, which is gone"},
		{"criu\n", "", `F:1: want an absolute path or "unavailable: REASON", got "criu"`},
	}
	for _, tc := range tests {
		path, why := parseCRIURecord("F", tc.content)
		if path != tc.path || !strings.HasPrefix(why, tc.why) || (tc.why == "") != (why == "") {
			t.Errorf("parseCRIURecord(%q) = %q, %q; want %q, %q...", tc.content, path, why, tc.path, tc.why)
		}
	}
}

func TestCRIUWithoutRecord(t *testing.T) {
	l := &Lab{Dir: t.TempDir()}
	if path, why := l.CRIU(); path != "" || !strings.Contains(why, "lab.sh up") {
		t.Errorf("CRIU() = %q, %q; want no path and how to get one", path, why)
	}
	if err := os.WriteFile(filepath.Join(l.Dir, CRIUFile), []byte("unavailable: LAB_CRIU=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if path, why := l.CRIU(); path != "" || why != "LAB_CRIU=0" {
		t.Errorf("CRIU() = %q, %q; want the recorded reason", path, why)
	}
}
