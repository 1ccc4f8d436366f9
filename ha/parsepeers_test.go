package ha

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePeers(t *testing.T) {
	peers, err := ParsePeers("c=https://h:3, a=https://h:1,b=http://h:2")
	if err != nil {
		t.Fatal(err)
	}
	if peers["a"] != "https://h:1" || peers["c"] != "https://h:3" || !slices.Equal(PeerNames(peers), []string{"a", "b", "c"}) {
		t.Errorf("peers = %v, names %v", peers, PeerNames(peers))
	}
	for list, want := range map[string]string{
		"a=http://h:1,b":            `"b" is not NAME=URL`,
		"a=tcp://h:1":               `member "a": "tcp://h:1" is not an http(s)://HOST:PORT URL`,
		"a=http://h:1,a=http://h:2": `member "a" is listed twice`,
		"=http://h:1,b=http://h:2":  `is not NAME=URL`,
	} {
		if _, err := ParsePeers(list); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePeers(%q) = %v, want %q", list, err, want)
		}
	}
}
