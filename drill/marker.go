package drill

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
)

// DefaultMarkerPath is where --marker writes inside the primary of a
// service without sync: the web root of the lab's busybox image.
const DefaultMarkerPath = "/var/www/understudy-drill-marker.txt"

// MarkerPathFor is where --marker writes for svc by default: a file in its
// first sync path (the content that is synced; in the lab a directory of
// the web root, so the standby serves it), else DefaultMarkerPath.
func MarkerPathFor(svc *inventory.Service) string {
	if svc == nil || svc.Sync == nil || len(svc.Sync.Paths) == 0 {
		return DefaultMarkerPath
	}
	return path.Join(svc.Sync.Paths[0], "understudy-drill-marker.txt")
}

// MarkerWriter writes a file inside the primary instance (--marker).
type MarkerWriter interface {
	WriteFile(ctx context.Context, instance, path, content string) error
}

// LXDMarker writes through the primary's hypervisor file API.
type LXDMarker struct{ C *lxd.Client }

// WriteFile implements MarkerWriter.
func (m LXDMarker) WriteFile(ctx context.Context, instance, path, content string) error {
	f, err := m.C.Files(ctx, instance)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := f.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, content); err != nil {
		_ = w.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return w.Close()
}

// MarkerResult is what the drill's marker showed: whether the content
// written on the primary before the injection was served by the standby,
// and how old the copy it served from was (the incident's recovery point).
type MarkerResult struct {
	Path    string    `json:"path"`
	Written time.Time `json:"written"`
	// Synced: the monitor reported a good sync begun after the write before
	// the injection (the drill waits for one, at most Config.MarkerWait).
	Synced bool `json:"synced"`
	// Served: the standby answered the marker's path with its content.
	Served bool   `json:"served"`
	Body   string `json:"body,omitempty"` // what it answered instead
	// CopyAgeMS and Copy are the incident's recovery point ("served from
	// a copy 1s old"); nil when the monitor recorded none.
	CopyAgeMS *float64 `json:"copy_age_ms"`
	Copy      string   `json:"copy,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// writeMarker writes the marker on the primary and waits for the monitor
// to report a sync that began after it.
func (r *run) writeMarker(ctx context.Context) {
	m := &MarkerResult{Path: r.cfg.Marker, Written: time.Now()}
	r.res.Marker = m
	content := "understudy drill marker " + m.Written.UTC().Format(time.RFC3339Nano)
	r.markerBody = content
	if r.d.Marker == nil {
		m.Error = "no way to write into the primary"
		return
	}
	if err := r.d.Marker.WriteFile(ctx, r.cfg.Primary.Instance, m.Path, content); err != nil {
		m.Error = "write the marker: " + err.Error()
		return
	}
	r.log.Info("marker written; waiting for a sync", "path", m.Path)
	wctx, cancel := context.WithTimeout(ctx, r.cfg.MarkerWait)
	defer cancel()
	for wctx.Err() == nil {
		st, err := r.d.Monitor.Service(wctx, r.cfg.Service)
		if err == nil && st.Sync == nil {
			m.Error = "the service has no sync (services[].sync)"
			return
		}
		if err == nil && st.Sync.LastGood.After(m.Written) {
			m.Synced = true
			return
		}
		sleep(wctx, r.cfg.Poll)
	}
	r.res.Notes = append(r.res.Notes, fmt.Sprintf("no sync reported within %s of the marker; injecting anyway", r.cfg.MarkerWait))
}

// checkMarker asks the standby for the marker once the service recovered.
func (r *run) checkMarker(ctx context.Context) {
	m := r.res.Marker
	if m == nil || m.Error != "" {
		return
	}
	if inc := r.incident; inc != nil && inc.Copy != nil {
		age := inc.Copy.AgeMS
		m.CopyAgeMS, m.Copy = &age, inc.Copy.Note
	}
	if r.incident == nil || r.incident.To == "" {
		m.Error = "no standby address to ask"
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(r.incident.To, strconv.Itoa(r.cfg.Port)) + strings.TrimPrefix(m.Path, "/var/www")
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	if err != nil {
		m.Error = err.Error()
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.Error = "ask the standby: " + err.Error()
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	m.Served = resp.StatusCode == http.StatusOK && string(b) == r.markerBody
	if !m.Served {
		m.Body = fmt.Sprintf("%s: %.80q", resp.Status, b)
	}
}
