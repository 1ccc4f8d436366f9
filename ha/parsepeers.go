package ha

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// ParsePeers parses a static cluster's member list as `understudy monitor
// --peers` takes it, NAME=URL,NAME=URL,..., into PeersConfig.Peers: every
// URL http(s)://HOST:PORT, every name once.
func ParsePeers(list string) (map[string]string, error) {
	peers := map[string]string{}
	for _, kv := range strings.Split(list, ",") {
		name, raw, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || name == "" || raw == "" {
			return nil, fmt.Errorf("%q is not NAME=URL", kv)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("member %q: %q is not an http(s)://HOST:PORT URL", name, raw)
		}
		if _, dup := peers[name]; dup {
			return nil, fmt.Errorf("member %q is listed twice", name)
		}
		peers[name] = raw
	}
	return peers, nil
}

// PeerNames returns the members' names of peers, sorted.
func PeerNames(peers map[string]string) []string {
	out := make([]string, 0, len(peers))
	for k := range peers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
