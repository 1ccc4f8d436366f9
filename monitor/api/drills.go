package api

import "encoding/json"

// Drill is one drill of the history, as the status page lists it.
type Drill struct {
	// ID names the drill (drill.ID); its chart is at /ui/drills/ID.svg.
	ID string `json:"id"`
	// Result is the drill's line of the history (drill.Result as JSON).
	Result json.RawMessage `json:"result"`
	// MedianMS is the median recovery of the drills it is compared with,
	// Regression why it is a regression (drill.Trend).
	MedianMS   *int64 `json:"median_ms,omitempty"`
	Regression string `json:"regression,omitempty"`
}

// DrillHistory is the body of the status page's GET /ui/drills.
type DrillHistory struct {
	Drills []Drill `json:"drills"`
	// Note says why there are none to show (no history configured, or it
	// could not be read).
	Note string `json:"note,omitempty"`
}
