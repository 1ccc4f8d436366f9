package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/drill"
)

// fixtureHost is a host drill of two services: the fixture drill's web and
// a copy of it named api, cold, recovered 500 ms later.
func fixtureHost() *drill.HostResult {
	web := fixtureResult()
	web.Host = "host-a"
	api := fixtureResult()
	api.Service, api.Mode, api.Host = "api", "cold", "host-a"
	rec := *api.RecoveryMS + 500
	api.RecoveryMS = &rec
	h := &drill.HostResult{Hypervisor: "host-a", Inject: drill.HostDown, Via: drill.ViaBoth, Load: 3, Started: t0,
		Services: []drill.Result{*web, *api}}
	drill.Summarize(h)
	h.FaultInPlace, h.FaultRemoved = web.Phases.FaultInPlace, web.Phases.FaultRemoved
	return h
}

func TestHostReportGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHostReport(&b, fixtureHost()); err != nil {
		t.Fatal(err)
	}
	golden(t, "host-report.txt", b.Bytes())
}

// TestHostSVGHasALanePerService parses the host chart: well-formed, one
// lane per service, every request drawn, the all-served marker.
func TestHostSVGHasALanePerService(t *testing.T) {
	h := fixtureHost()
	var b bytes.Buffer
	if err := WriteHostSVG(&b, h); err != nil {
		t.Fatal(err)
	}
	ids, rects, texts := map[string]bool{}, 0, ""
	dec := xml.NewDecoder(&b)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			for _, a := range el.Attr {
				if a.Name.Local == "id" {
					ids[a.Value] = true
				}
			}
			if el.Name.Local == "rect" {
				rects++
			}
		case xml.CharData:
			texts += string(el)
		}
	}
	samples := 0
	for _, r := range h.Services {
		samples += len(r.Samples)
		if !ids["lane-"+r.Service] {
			t.Errorf("no lane for %s", r.Service)
		}
	}
	if rects < samples {
		t.Errorf("%d rects for %d requests", rects, samples)
	}
	if !ids["phase-all-served"] || !strings.Contains(texts, "2 of 2 served again") {
		t.Errorf("no all-served marker or headline")
	}
}

// TestAppendHostHistory: a host drill adds each service's line and the
// host's own; the trend compares a host drill's service only with the
// same service's host drills, and the host line with earlier host lines.
func TestAppendHostHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryFile)
	single := fixtureResult() // a drill of web alone: another scope
	if err := AppendHistory(path, single); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := AppendHostHistory(path, fixtureHost()); err != nil {
			t.Fatal(err)
		}
	}
	h, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1+4*3 {
		t.Fatalf("%d lines, want 13", len(h))
	}
	rows := Trend(h)
	last := rows[len(rows)-1]
	if last.Service != "host:host-a" || last.MedianMS == nil || last.RecoveryMS == nil || *last.MedianMS != *last.RecoveryMS {
		t.Errorf("last line %s median %v: want the host line compared with its 3 before", last.Service, msText(last.MedianMS))
	}
	for _, r := range rows[len(rows)-3 : len(rows)-1] {
		if r.Host != "host-a" || r.MedianMS == nil {
			t.Errorf("%s (host %q): median %v, want compared with the 3 host drills before", r.Service, r.Host, msText(r.MedianMS))
		}
	}
	chart, err := ReadChart(path, &last.Result)
	if err != nil || !bytes.Contains(chart, []byte(`id="lane-api"`)) {
		t.Errorf("the host line's chart: %v, want the host chart with a lane per service", err)
	}
	var back drill.HostResult
	var js bytes.Buffer
	if err := WriteHostJSON(&js, fixtureHost()); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Total != 2 || back.AllServedMS == nil {
		t.Errorf("the JSON reads back as %+v, %v", back, err)
	}
}
