package contentsync

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/lxd"
)

// rsyncOpener pulls the primary's paths with rsync over ssh into a mirror
// and opens the standby container named after the target's service.
type rsyncOpener struct {
	w     *labWorld
	rsync Rsync
	paths []string
}

func (o rsyncOpener) Primary(ctx context.Context, _ string) (Session, error) {
	return o.rsync.Pull(ctx, o.paths)
}

func (o rsyncOpener) Standby(ctx context.Context, service string) (Session, error) {
	return o.w.stdby.Files(ctx, service)
}

// TestIntegrationSyncRsync syncs the primary's web root with method rsync:
// over ssh (dropbear in the primary, the key a file on this side) into a
// mirror, then into the warm standby container, which serves the new file;
// a second sync moves only the file that changed. ssh connects through
// the relay that draws on the shared cap, and checks the primary's host
// key under the primary's address all the same. When ssh refuses the
// primary's host key (it changed), the sync fails and the standby keeps
// serving the last good copy.
func TestIntegrationSyncRsync(t *testing.T) {
	w := newLabWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	dir := t.TempDir()
	key, pub := labconn.SSHKey(t, dir)
	labconn.SSHD(ctx, t, w.hostA, labPrimary, pub)
	write(t, w.hostA, labPrimary, "/var/www/marker.html", "rsync one")
	write(t, w.hostA, labPrimary, "/var/www/big.bin", strings.Repeat("r", 1<<20))
	known := filepath.Join(dir, "known_hosts")
	var relayed atomic.Int64 // what crossed the relay, both ways, through the shared cap
	rs := Rsync{User: "root", Host: labPrimaryAddr, Port: 22, Key: key, KnownHosts: known, Mirror: filepath.Join(dir, "mirror"),
		Limiter: lxd.NewLimiter(256 << 20), relayed: func(rd io.Reader) io.Reader { return countReader{rd, &relayed} }}
	r := New(Config{Open: rsyncOpener{w: w, rsync: rs, paths: []string{"/var/www"}}, Gate: openGate{},
		Logger: labtest.Logger(t, slog.LevelDebug)})
	tg := Target{Service: labWarm, Paths: []string{"/var/www"}, Every: time.Minute, MaxRPO: 3 * time.Minute}
	if _, err := r.SyncNow(ctx, tg, nil); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if body, err := get(ctx, labWarmAddr, "/marker.html"); err != nil || body != "rsync one" {
		t.Fatalf("warm standby serves %q (%v), want the primary's marker", body, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "mirror", "var", "www", "big.bin")); err != nil || len(b) != 1<<20 {
		t.Errorf("the mirror's big.bin: %d bytes (%v), want 1 MiB", len(b), err)
	}
	if b, err := os.ReadFile(known); err != nil || strings.Count(string(b), " ssh-ed25519 ") != 1 { // ssh may hash the name
		t.Errorf("known hosts %q (%v), want the primary's key recorded at the first login", b, err)
	}
	if n := relayed.Load(); n < 1<<20 {
		t.Errorf("the pull's relay passed %d bytes through the shared cap, want the 1 MiB file at least", n)
	}

	write(t, w.hostA, labPrimary, "/var/www/marker.html", "rsync two, longer")
	st, err := r.SyncNow(ctx, tg, nil)
	if err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if st.Changed != 1 || st.Sent != int64(len("rsync two, longer")) {
		t.Errorf("second sync = %+v, want only the marker moved", st)
	}
	if body, err := get(ctx, labWarmAddr, "/marker.html"); err != nil || body != "rsync two, longer" {
		t.Errorf("warm standby serves %q (%v), want the new marker", body, err)
	}

	// The primary's host key changes (a man in the middle, or a rebuilt
	// VM): ssh refuses it, and the standby keeps the last good copy.
	if err := os.WriteFile(known, []byte(labPrimaryAddr+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, w.hostA, labPrimary, "/var/www/marker.html", "never copied")
	if _, err := r.SyncNow(ctx, tg, nil); !errors.Is(err, ErrRsync) {
		t.Fatalf("sync with a changed host key = %v, want ErrRsync", err)
	}
	if body, err := get(ctx, labWarmAddr, "/marker.html"); err != nil || body != "rsync two, longer" {
		t.Errorf("after the refused sync the standby serves %q (%v), want the last good copy", body, err)
	}
}
