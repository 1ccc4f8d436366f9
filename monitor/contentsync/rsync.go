package contentsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/understudy/understudy/lxd"
)

// ErrRsync: rsync could not pull a path from the primary (its exit status
// and the end of what it printed say why).
var ErrRsync = errors.New("rsync failed")

// Rsync pulls a service's paths from its primary VM over ssh into a mirror
// directory on the monitor, with rsync's delta transfer: only the changed
// parts of changed files cross the network. The copy into the standby then
// reads the mirror (Mirror) as it reads a primary, so the staging, the swap
// and the guards are the incus method's.
type Rsync struct {
	// Bin is the rsync program (default "rsync" on PATH).
	Bin string
	// User, Host and Port are where ssh logs in; Key is the private key
	// file. KnownHosts holds the primaries' host keys: a new host's key is
	// recorded the first time and checked every time after.
	User, Host string
	Port       int
	Key        string
	KnownHosts string
	// Mirror is the service's mirror directory.
	Mirror string
	// Limiter is the bandwidth cap the pull shares with every other copy
	// (migration.bandwidth): ssh connects through a loopback relay
	// (rsyncrelay.go) whose bytes, both ways, draw on it. nil: ssh
	// connects to the primary directly, uncapped.
	Limiter *lxd.Limiter
	// Logger logs the relay's connections (nil: discarded).
	Logger *slog.Logger

	// relayed, when set (tests), wraps the relay's reads after the cap.
	relayed func(io.Reader) io.Reader
}

// Pull brings every path into the mirror (a directory with --delete, so
// the mirror holds what the primary holds) and returns the mirror to read.
// A pull that fails leaves the mirror half-updated, which does no harm:
// nothing is copied into the standby from it, and the next pull completes
// it.
func (r Rsync) Pull(ctx context.Context, paths []string) (Session, error) {
	if err := os.MkdirAll(filepath.Dir(r.KnownHosts), 0o700); err != nil {
		return nil, fmt.Errorf("rsync: create the known hosts' directory: %w", err)
	}
	for _, p := range paths {
		if err := r.pull(ctx, p); err != nil {
			return nil, err
		}
	}
	return Mirror{Root: r.Mirror}, nil
}

func (r Rsync) pull(ctx context.Context, p string) error {
	dest := Mirror{Root: r.Mirror}.local(path.Dir(p))
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return fmt.Errorf("rsync: create the mirror of %s: %w", p, err)
	}
	port := 0
	var relay *sshRelay
	if r.Limiter != nil {
		var err error
		if relay, err = startRelay(ctx, net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), r.wrap, r.logger()); err != nil {
			return err
		}
		port = relay.Port()
	}
	cmd := exec.CommandContext(ctx, r.bin(), r.args(p, dest, port)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var rerr error
	if relay != nil {
		rerr = relay.Close()
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("rsync %s: %w", p, context.Cause(ctx))
	case err != nil && rerr != nil:
		return fmt.Errorf("rsync %s from %s: %w: %v: %s (%v)", p, r.Host, ErrRsync, err, tail(out.String(), 400), rerr)
	case err != nil:
		return fmt.Errorf("rsync %s from %s: %w: %v: %s", p, r.Host, ErrRsync, err, tail(out.String(), 400))
	}
	return nil
}

// wrap is the relay's reader: through the shared cap, then relayed.
func (r Rsync) wrap(ctx context.Context, rd io.Reader) io.Reader {
	rd = r.Limiter.Reader(ctx, rd)
	if r.relayed != nil {
		rd = r.relayed(rd)
	}
	return rd
}

func (r Rsync) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r Rsync) bin() string {
	if r.Bin != "" {
		return r.Bin
	}
	return "rsync"
}

// args is rsync's command line for p into dest: the archive (modes, times,
// owners as numbers, links), --delete inside a directory, ssh in batch
// mode (it never asks for a password) with the key and the known hosts.
// With relay (a loopback port, 0: none) ssh connects there, and checks
// the host key under the primary's own name (HostKeyAlias: as ssh records
// it, the address, or [address]:port off port 22).
func (r Rsync) args(p, dest string, relay int) []string {
	host, port := r.Host, r.Port
	ssh := []string{"ssh", "-i", sshFile(r.Key)}
	if relay > 0 {
		alias := r.Host
		if r.Port != 22 {
			alias = "[" + r.Host + "]:" + strconv.Itoa(r.Port)
		}
		host, port = "127.0.0.1", relay
		ssh = append(ssh, "-o", "HostKeyAlias="+quote(alias), "-o", "CheckHostIP=no")
	}
	ssh = append(ssh, "-p", strconv.Itoa(port),
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
		"-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile="+sshFile(r.KnownHosts))
	args := []string{"--archive", "--hard-links", "--numeric-ids", "--delete", "-e", strings.Join(ssh, " ")}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return append(args, "--", r.User+"@"+host+":"+p, dest+string(filepath.Separator))
}

// sshFile is a file path for ssh's -i and UserKnownHostsFile, where ssh
// expands %-tokens: a literal % is written %%, then quoted.
func sshFile(s string) string { return quote(strings.ReplaceAll(s, "%", "%%")) }

// quote protects a path with spaces in rsync's -e command line.
func quote(s string) string {
	if !strings.ContainsAny(s, " \t'\"") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tail is the end of s, at most n bytes, on one line.
func tail(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " ")
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
