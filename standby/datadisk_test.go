package standby

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrepareAttachesDataDisk: warm and cold alike, the container gets the
// data disk as a disk device (source on the host, path in the container).
func TestPrepareAttachesDataDisk(t *testing.T) {
	env := newTestEnv(t, nil)
	src := t.TempDir()
	for _, mode := range []Mode{ModeWarm, ModeCold} {
		spec := env.spec("db-"+string(mode), mode)
		spec.DataDisk = &DataDisk{Source: src, Path: "/var/lib/db"}
		env.prepare(t, spec)
		d := env.rt.devices(spec.Name)[DataDiskDevice]
		if d["type"] != "disk" || d["source"] != src || d["path"] != "/var/lib/db" {
			t.Errorf("%s: device %s = %v, want disk %s at /var/lib/db", mode, DataDiskDevice, d, src)
		}
	}
}

// TestPrepareRefusesMissingDataDisk: a data disk whose source is not on the
// standby host fails prepare with ErrDataDiskMissing, across the wire too,
// and creates nothing (the controller shows it as "standby not ready").
func TestPrepareRefusesMissingDataDisk(t *testing.T) {
	env := newTestEnv(t, nil)
	_, c := startServer(t, env, newCertSet(t))
	missing := filepath.Join(t.TempDir(), "not-mounted")
	for _, mode := range []Mode{ModeWarm, ModeCold, ModeRestore} {
		spec := env.spec("db", mode)
		spec.DataDisk = &DataDisk{Source: missing, Path: "/var/lib/db"}
		_, err := c.Prepare(t.Context(), 1, spec)
		if !errors.Is(err, ErrDataDiskMissing) || !strings.Contains(err.Error(), "data disk "+missing+" missing") {
			t.Errorf("%s: err = %v, want ErrDataDiskMissing naming %s", mode, err, missing)
		}
		if exists, _, _ := env.rt.status("db"); exists {
			t.Errorf("%s: a container was created for a missing data disk", mode)
		}
	}
	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := env.spec("db", ModeCold)
	spec.DataDisk = &DataDisk{Source: missing, Path: "/var/lib/db"}
	if _, err := c.Prepare(t.Context(), 1, spec); err != nil {
		t.Errorf("prepare once the source exists: %v", err)
	}
}

func TestDataDiskPathsMustBeAbsolute(t *testing.T) {
	env := newTestEnv(t, nil)
	spec := env.spec("db", ModeCold)
	spec.DataDisk = &DataDisk{Source: "srv/db", Path: "/db"}
	if err := spec.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("relative source: %v, want ErrInvalid", err)
	}
}

// TestActivateNamesADataDiskGoneSincePrepare: a mount that disappeared after
// prepare makes the activation of a stopped container fail with
// ErrDataDiskMissing, naming the source, instead of a runtime start error.
func TestActivateNamesADataDiskGoneSincePrepare(t *testing.T) {
	env := newTestEnv(t, nil)
	src := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := env.spec("db", ModeCold)
	spec.DataDisk = &DataDisk{Source: src, Path: "/var/lib/db"}
	env.prepare(t, spec)
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	_, err := env.agent.Activate(t.Context(), 1, "db")
	if !errors.Is(err, ErrDataDiskMissing) || !strings.Contains(err.Error(), src) {
		t.Errorf("activate = %v, want ErrDataDiskMissing naming %s", err, src)
	}
	if _, running, _ := env.rt.status("db"); running {
		t.Error("the container was started without its data disk")
	}
}
