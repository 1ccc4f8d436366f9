package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/understudy/understudy/drill"
)

func TestSVGGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSVG(&b, fixtureResult()); err != nil {
		t.Fatal(err)
	}
	golden(t, "timeline.svg", b.Bytes())
}

// TestSVGWellFormed parses the chart and looks for its parts: a lane per
// path, a marker with a label for every phase that happened, and a bar per
// request.
func TestSVGWellFormed(t *testing.T) {
	for name, r := range map[string]*drill.Result{"both": fixtureResult(), "not-recovered": notRecovered(), "dns": dnsOnly()} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteSVG(&b, r); err != nil {
				t.Fatal(err)
			}
			ids, texts, rects := map[string]bool{}, []string{}, 0
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
					texts = append(texts, string(el))
				}
			}
			all := strings.Join(texts, "\n")
			for _, m := range happened(r) {
				id := "phase-" + strings.ReplaceAll(m.Label, " ", "-")
				if !ids[id] {
					t.Errorf("no marker %q", id)
				}
				if !strings.Contains(all, markText(m)) {
					t.Errorf("no label %q", markText(m))
				}
			}
			for _, p := range r.Via.Paths() {
				if !ids["lane-"+p] {
					t.Errorf("no lane for %s", p)
				}
			}
			if rects < len(r.Samples) {
				t.Errorf("%d rects for %d requests", rects, len(r.Samples))
			}
			if !strings.Contains(all, r.Verdict) {
				t.Errorf("the verdict %q is not in the chart", r.Verdict)
			}
		})
	}
}
