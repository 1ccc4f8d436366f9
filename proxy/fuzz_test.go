package proxy

import (
	"testing"

	"github.com/understudy/understudy/internal/monitorapi"
)

// FuzzDecodeLine feeds arbitrary stream lines to the decoder: it must
// never panic, and every placement it yields must survive setPlacement.
func FuzzDecodeLine(f *testing.F) {
	f.Add([]byte(`{"type":"snapshot","placements":[{"service":"web","where":"primary","host":"web-vm","address":"10.200.0.11","since":"2026-11-27T07:00:00Z","epoch":7}]}`))
	f.Add([]byte(`{"type":"keepalive"}`))
	f.Add([]byte(`{"service":"web","address":"::ffff:10.0.0.1","epoch":1}`))
	f.Add([]byte(`{"service":"web","address":""}`))
	f.Add([]byte(`{"type":"change","placements":[{"service":"web","address":"10.200.2.100","epoch":7,"held":true}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		s := newService(Service{Name: "web", Host: "web.test", Port: 80}, DefaultHeldMax)
		ev, _ := monitorapi.DecodePlacementLine(line)
		for _, p := range ev.Placements {
			s.setPlacement(p)
			if b, _ := s.current(); b != nil && !b.addr.IsValid() {
				t.Fatalf("backend with an invalid address from %q", line)
			}
		}
	})
}
