package drill

// deref shows a phase for a failure message.
func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// Get and Deref are get and deref, for the lab tests of package drill_test
// (they import drill/report, which imports drill, so they cannot be in
// package drill).
var (
	Get   = get
	Deref = deref
)
