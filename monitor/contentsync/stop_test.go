package contentsync

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
)

// ctxSession is a standby session that fails every swap call once the
// context it was opened with ended (lxd.Files closes its SFTP session
// then). Its first rename into the old-copy directory calls onSwap.
type ctxSession struct {
	localSession
	ctx    context.Context
	once   *sync.Once
	onSwap func()
}

func (s ctxSession) Rename(o, n string) error {
	if strings.Contains(n, ".understudy-sync-old.") {
		s.once.Do(s.onSwap)
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return s.localSession.Rename(o, n)
}

func (s ctxSession) RemoveAll(p string) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return s.localSession.RemoveAll(p)
}

// swapCancelOpener opens such standby sessions; onSwap cancels the sync.
type swapCancelOpener struct {
	fakeOpener
	onSwap func()
}

func (o swapCancelOpener) Standby(ctx context.Context, _ string) (Session, error) {
	return ctxSession{localSession{o.w.dst}, ctx, &sync.Once{}, o.onSwap}, nil
}

// A sync cancelled once its swap began finishes the swap: the standby
// holds the whole new tree, never half of each.
func TestCancelDuringTheSwapFinishesIt(t *testing.T) {
	w := newWorld(t)
	for _, f := range []string{"a", "b", "c"} {
		w.write(w.dst, "/var/www/"+f+".html", "old "+f, t0)
		w.write(w.src, "/var/www/"+f+".html", "new "+f+" longer", t0.Add(time.Minute))
	}
	var r *Runner
	r = newRunner(w, &fakeGate{}, clocktest.NewFake())
	cancelled := false
	r.cfg.Open = swapCancelOpener{fakeOpener{w}, func() { r.Cancel("web", "incident web-1 opened"); cancelled = true }}
	_, _ = r.SyncNow(context.Background(), webTarget, nil)
	if !cancelled {
		t.Fatal("the swap never began")
	}
	if got, want := w.tree(w.dst, "/var/www"), w.tree(w.src, "/var/www"); got != want {
		t.Errorf("standby after a cancel during the swap: %s, want the whole new copy %s", got, want)
	}
	if got := w.siblings(w.dst, "/var/www"); len(got) != 1 {
		t.Errorf("beside the copy: %q, want only www", got)
	}
}

// A sync cancelled before its swap leaves the old tree whole.
func TestCancelBeforeTheSwapKeepsTheOldCopy(t *testing.T) {
	w := newWorld(t)
	for _, f := range []string{"a", "b"} {
		w.write(w.dst, "/var/www/"+f+".html", "old "+f, t0)
		w.write(w.src, "/var/www/"+f+".html", "new "+f+" longer", t0.Add(time.Minute))
	}
	before := w.tree(w.dst, "/var/www")
	var r *Runner
	r = newRunner(w, &fakeGate{}, clocktest.NewFake())
	r.cfg.Open = cancelOpener{fakeOpener{w}, &r}
	if _, err := r.SyncNow(context.Background(), webTarget, nil); !errors.Is(err, ErrGateClosed) {
		t.Fatalf("SyncNow = %v, want ErrGateClosed", err)
	}
	if got := w.tree(w.dst, "/var/www"); got != before {
		t.Errorf("standby = %s, want the old copy %s", got, before)
	}
}

// blockOpener's primary files block on read until the sync's context
// ends, then say so on cancelled and wait for release.
type blockOpener struct {
	fakeOpener
	reading, cancelled, release chan struct{}
}

func (o blockOpener) Primary(ctx context.Context, _ string) (Session, error) {
	return blockSession{localSession{o.w.src}, ctx, o}, nil
}

type blockSession struct {
	localSession
	ctx context.Context
	o   blockOpener
}

func (s blockSession) Open(string) (io.ReadCloser, error) {
	return io.NopCloser(blockReader(s)), nil
}

type blockReader blockSession

func (b blockReader) Read([]byte) (int, error) {
	close(b.o.reading)
	<-b.ctx.Done()
	close(b.o.cancelled)
	<-b.o.release
	return 0, b.ctx.Err()
}

// Stop returns only once the sync it cancelled returned.
func TestStopWaitsForTheSync(t *testing.T) {
	w := newWorld(t)
	w.write(w.src, "/var/www/index.html", "v1", t0)
	o := blockOpener{fakeOpener{w}, make(chan struct{}), make(chan struct{}), make(chan struct{})}
	r := newRunner(w, &fakeGate{}, clocktest.NewFake())
	r.cfg.Open = o
	synced := make(chan error, 1)
	go func() { _, err := r.SyncNow(context.Background(), webTarget, nil); synced <- err }()
	<-o.reading
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop("web", "incident web-1 opened") }()
	<-o.cancelled
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while the sync still ran", err)
	default:
	}
	close(o.release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v", err)
	}
	st, _ := r.Status("web")
	if st.Running || st.Failures != 1 || !strings.Contains(st.LastError, "incident web-1 opened") {
		t.Errorf("status after Stop = running %v, failures %d, error %q; want the sync returned, failed with the reason", st.Running, st.Failures, st.LastError)
	}
	if err := <-synced; !errors.Is(err, ErrGateClosed) {
		t.Errorf("SyncNow = %v, want ErrGateClosed", err)
	}
	if err := r.Stop("web", "nothing runs"); err != nil {
		t.Errorf("Stop with nothing running = %v", err)
	}
}
