package findings

import (
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
)

// TestSet: a proxy's finding does not replace the monitor's own; Taken
// closes only the finding that was passed on, not a newer one; List is by
// name.
func TestSet(t *testing.T) {
	s := New()
	at := time.Now()
	s.Add("web", recover.FromMonitor, "service-down", at)
	s.Add("web", recover.FromProxy, "proxy suspect", at)
	s.Add("api", recover.FromProxy, "proxy suspect", at)
	names, open := s.List()
	if len(names) != 2 || names[0] != "api" || open["web"].Source != recover.FromMonitor {
		t.Fatalf("List = %v, %+v", names, open)
	}
	was := open["api"]
	s.Add("api", recover.FromProxy, "again", at.Add(time.Second))
	s.Taken("api", was)
	if _, open := s.List(); open["api"].Reason != "again" {
		t.Errorf("Taken closed a newer finding: %+v", open)
	}
	s.Taken("api", open["api"])
	s.Close("web")
	if names, _ := s.List(); len(names) != 1 || names[0] != "api" {
		t.Errorf("after Close(web): %v", names)
	}
}
