package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/understudy/understudy/internal/monitorapi"
)

// streamTransport answers every request with one 200 NDJSON body.
type streamTransport []byte

func (s streamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(s)),
		Header: http.Header{"Content-Type": {"application/x-ndjson"}}, Request: r,
	}, nil
}

// FuzzWatchStream feeds a whole placement stream (the monitor's answer to
// GET /v1/placements?watch=1) to the proxy's stream client, line splitting
// and the line bound included. It must never panic and always end with an
// error: ErrStreamEnded when every line decoded, else one naming the line;
// it yields placements only from lines that decode.
func FuzzWatchStream(f *testing.F) {
	f.Add([]byte(`{"type":"snapshot","placements":[{"service":"web","where":"primary","host":"web-vm","address":"10.200.0.11","since":"2026-11-27T07:00:00Z","epoch":7}]}` + "\n" +
		`{"type":"keepalive"}` + "\n" +
		`{"type":"change","placements":[{"service":"web","where":"standby","address":"10.200.1.100","epoch":8,"held":true}]}` + "\n"))
	f.Add([]byte(`{"type":"change","placements":[{"service":"web","where":"primary","address":"10.200.0.11","epoch":8,"failing_over":true}]}` + "\n" +
		`{"type":"change","placements":[{"service":"web","where":"primary","address":"10.200.0.11","epoch":8,"unavailable":"unprotected: no capacity (needs 512 MiB, 128 MiB free)\u0000\r\n"}]}` + "\n"))
	f.Add([]byte("\n\n   \n{\"service\":\"web\",\"address\":\"::1\"}\r\n"))
	f.Add([]byte(`{"type":"change","placements":[{"service":"web","address":"10.0.0.256"}]}`))
	f.Add(bytes.Repeat([]byte("x"), monitorapi.MaxStreamLine+1))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := NewMonitorClient("http://monitor.invalid:9180", &http.Client{Transport: streamTransport(body)})
		if err != nil {
			t.Fatal(err)
		}
		lines, decodable := 0, 0
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, monitorapi.MaxStreamLine)
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				lines++
				if func() bool { _, err := monitorapi.DecodePlacementLine(l); return err == nil }() {
					decodable++
				}
			}
		}
		got := 0
		err = c.WatchPlacements(context.Background(), func(Placement) { got++ })
		if err == nil {
			t.Fatal("the stream ended without an error")
		}
		if sc.Err() == nil && decodable == lines && !errors.Is(err, ErrStreamEnded) {
			t.Fatalf("every line decodes, yet the stream ended with %v", err)
		}
		if sc.Err() == nil && decodable < lines && errors.Is(err, ErrStreamEnded) {
			t.Fatalf("%d of %d lines do not decode, yet the stream ended cleanly", lines-decodable, lines)
		}
		if got > 0 && decodable == 0 {
			t.Fatalf("%d placements from a stream without a decodable line", got)
		}
	})
}
