package inventory

import (
	"fmt"
	"os"
	"regexp"

	"github.com/understudy/understudy/internal/yamlpos"
)

// keyFileRE finds the clause a BIND key file must have; the secret itself is never shown.
var keyFileRE = regexp.MustCompile(`(?s)key\s+"?[^"\s{]+"?\s*\{.*secret\s+"[^"]+"`)

// checkFiles checks that the files the monitor reads exist and are readable:
// the TSIG key file (which must also look like a BIND key file), the ssh
// keys of rsync syncs, and custom playbooks. It never includes a file's content in an error.
func (d *decoder) checkFiles(inv *Inventory) {
	if f := inv.DNS.TSIGKeyFile; f != "" {
		if err := checkKeyFile(f); err != nil {
			d.ErrPath("dns.tsig-key-file", "%v", err)
		} else if perm := keyFilePerm(f); perm&0o077 != 0 {
			d.WarnPath("dns.tsig-key-file", "TSIG key file %s has mode %04o: its group or other users may read or change the secret, and the monitor refuses to load it; make it private: chmod 600 %s", f, perm, f)
		}
	}
	for i, s := range inv.Services {
		if y := s.Sync; y != nil && y.SSH != nil && y.SSH.Key != "" && y.Method == SyncRsync {
			if err := checkSyncKey(y.SSH.Key); err != nil {
				d.ErrPath(yamlpos.Join(yamlpos.Index("services", i), "sync.ssh.key"), "%v", err)
			}
		}
		if s.Playbook == "" {
			continue
		}
		if _, err := os.ReadFile(s.Playbook); err != nil {
			d.ErrPath(yamlpos.Join(yamlpos.Index("services", i), "playbook"), "cannot read playbook: %v", err)
		}
	}
}

// keyFilePerm is the key file's permission bits, as the monitor's
// dnsupdate.LoadKeyFile checks them (0 when it cannot be read).
func keyFilePerm(path string) os.FileMode {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Mode().Perm()
}

// checkKeyFile reads a TSIG key file and checks that it holds a key clause with a secret.
func checkKeyFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read TSIG key file: %w", err)
	}
	if !keyFileRE.Match(data) {
		return fmt.Errorf("TSIG key file %s is not a BIND key file: want key \"NAME\" { algorithm ...; secret \"...\"; };", path)
	}
	return nil
}
