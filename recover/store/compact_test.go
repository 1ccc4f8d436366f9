package store

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/embedded"
)

// TestEmbeddedEtcdAutoCompacts: after many saves the embedded etcd compacts
// its history on its own, so old revisions are gone (the quota is not
// reached by history alone).
func TestEmbeddedEtcdAutoCompacts(t *testing.T) {
	ctx := context.Background()
	e, err := embedded.Start(ctx, embedded.Config{Dir: t.TempDir(), Retention: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := NewEtcd(e.Client, "/t-recover-compact/")
	rec := recover.New(recover.Config{Service: recover.Service{Name: "web", VM: "web-vm", Address: primaryAddr}}).Record()
	var first int64
	for i := range 500 {
		rec.Seq = i
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			resp, err := e.Client.Get(ctx, s.serviceKey("web"))
			if err != nil {
				t.Fatal(err)
			}
			first = resp.Kvs[0].ModRevision
		}
	}
	// The event: a read at the first save's revision answers "compacted".
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := e.Client.Get(ctx, s.serviceKey("web"), clientv3.WithRev(first))
		if errors.Is(err, rpctypes.ErrCompacted) {
			break
		}
		if err != nil {
			t.Fatalf("read revision %d: %v", first, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("revision %d of %s not compacted after 60 s", first, strconv.Quote(s.serviceKey("web")))
		}
		// A write moves the clock of the compactor's revisions on.
		rec.Seq++
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := e.Client.Get(ctx, s.serviceKey("web"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("the record after compaction: %v, %v", resp, err)
	}
}
