package main

import (
	"errors"
	"flag"
	"net/http"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
)

// apiTLSFlags are the credential flags of every command that talks to the
// monitor's API (status, migrate, failback, drill, proxy): a client
// certificate, or a bearer token file for a plain-HTTP API. Without them a
// command given -f uses the inventory's monitor.api-client-tls (else
// monitor.api-tls) and monitor.api-token-file; with --url or --monitor and
// no -f they are the only source of a credential.
type apiTLSFlags struct {
	ca, cert, key *string
	token         *string
}

func addAPITLSFlags(fs *flag.FlagSet) apiTLSFlags {
	return apiTLSFlags{
		ca:    fs.String("tls-ca", "", "CA `FILE` that verifies the monitor's HTTPS certificate (default: monitor.api-client-tls, else monitor.api-tls, of -f)"),
		cert:  fs.String("tls-cert", "", "client certificate `FILE` for the monitor's mutual TLS (with --tls-ca and --tls-key)"),
		key:   fs.String("tls-key", "", "client key `FILE` for the monitor's mutual TLS (with --tls-ca and --tls-cert)"),
		token: fs.String("token-file", "", "bearer token `FILE` (mode 0600) of a plain-HTTP monitor API, which every change needs (default: monitor.api-token-file of -f)"),
	}
}

// errTLSFlags is a usage error: the three flags go together.
var errTLSFlags = errors.New("set --tls-ca, --tls-cert and --tls-key together")

// files returns the flags' files, or inv's client files when no flag is
// set (inv may be nil: none).
func (f apiTLSFlags) files(inv *inventory.Inventory) (inventory.TLSFiles, error) {
	t := inventory.TLSFiles{CA: *f.ca, Cert: *f.cert, Key: *f.key}
	switch {
	case t.CA != "" && t.Cert != "" && t.Key != "":
		return t, nil
	case !t.IsZero():
		return inventory.TLSFiles{}, errTLSFlags
	case inv != nil:
		return inv.Monitor.ClientTLS(), nil
	default:
		return inventory.TLSFiles{}, nil
	}
}

// tokenFile is --token-file, else inv's monitor.api-token-file ("": none).
func (f apiTLSFlags) tokenFile(inv *inventory.Inventory) string {
	if *f.token != "" || inv == nil {
		return *f.token
	}
	return inv.Monitor.APITokenFile
}

// httpClient is the HTTP client with the flags' (else inv's) credential;
// inv may be nil. A bad flag combination is a usage error (exit 2), an
// unusable file exit 1.
func (f apiTLSFlags) httpClient(inv *inventory.Inventory) (*http.Client, error) {
	files, err := f.files(inv)
	if err != nil {
		return nil, withCode(2, err)
	}
	hc, err := monitorapi.ClientFor(files, f.tokenFile(inv))
	if err != nil {
		return nil, withCode(1, err)
	}
	return hc, nil
}

// monitorAPI is the client of the monitor at base (--url), or at the
// inventory's monitor.listen with its scheme when base is empty; inv may be
// nil with a base. A bad flag combination is a usage error (exit 2).
func monitorAPI(base string, inv *inventory.Inventory, tf apiTLSFlags) (*monitorapi.Client, error) {
	hc, err := tf.httpClient(inv)
	if err != nil {
		return nil, err
	}
	if base == "" {
		base = inv.Monitor.APIURL()
	}
	cl, err := monitorapi.New(base, hc)
	if err != nil {
		return nil, withCode(2, err)
	}
	return cl, nil
}
