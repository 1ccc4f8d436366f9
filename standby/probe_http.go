package standby

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxProbeBody bounds what an http probe reads of the answer.
const maxProbeBody = 64 << 10

// probeHTTP sends one GET to the service, follows no redirects and keeps no
// connection open. The status must be req.ExpectStatus, or any 2xx when that
// is 0.
func probeHTTP(ctx context.Context, addr netip.Addr, req ProbeRequest) ProbeResult {
	path := req.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(req.Port)) + path
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ProbeResult{Error: "http: " + err.Error()}
	}
	client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	start := time.Now()
	resp, err := client.Do(hreq)
	rtt := ms(time.Since(start))
	if err != nil {
		return ProbeResult{RTTMS: rtt, Error: "http: " + err.Error()}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	ok := resp.StatusCode == req.ExpectStatus ||
		(req.ExpectStatus == 0 && resp.StatusCode >= 200 && resp.StatusCode < 300)
	if !ok {
		want := "2xx"
		if req.ExpectStatus != 0 {
			want = strconv.Itoa(req.ExpectStatus)
		}
		return ProbeResult{RTTMS: rtt, Error: fmt.Sprintf("http: status %d, want %s", resp.StatusCode, want)}
	}
	return ProbeResult{OK: true, RTTMS: rtt}
}
