package etcdlog

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

func TestShutdownNoiseIsDropped(t *testing.T) {
	var out bytes.Buffer
	ec := embed.NewConfig()
	if err := useWriter(ec, "", &out); err != nil {
		t.Fatal(err)
	}
	if err := ec.ZapLoggerBuilder(ec); err != nil {
		t.Fatal(err)
	}
	lg := ec.GetLogger().With(zap.String("member", "m0"))
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("http: Server closed")))
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("accept tcp 127.0.0.1:1: use of closed network connection")))
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("listen tcp: address already in use")))
	lg.Error("failed to publish local member to cluster through raft")
	lg.Warn("slow fdatasync") // below the default level
	got := out.String()
	for _, want := range []string{"address already in use", "failed to publish local member"} {
		if !strings.Contains(got, want) {
			t.Errorf("a real error was dropped: %q missing from\n%s", want, got)
		}
	}
	for _, noise := range []string{"Server closed", "use of closed network connection", "slow fdatasync"} {
		if strings.Contains(got, noise) {
			t.Errorf("%q was logged:\n%s", noise, got)
		}
	}
	if err := useWriter(ec, "loud", &out); err == nil {
		t.Error("an unknown level was accepted")
	}
}
