package labtest

import "testing"

// TestRequiredRule is the one rule for "the lab is required", variable by
// variable.
func TestRequiredRule(t *testing.T) {
	cases := []struct {
		require, ci string
		want        bool
	}{
		{"", "", false},
		{"1", "", true},
		{"true", "", true},
		{"TRUE", "", true},
		{"yes", "", true},
		{" 1 ", "", true},
		{"0", "", false},
		{"false", "", false},
		{"no", "", false},
		{"off", "", false},
		{"", "1", true},
		{"", "true", true},
		{"", "yes", true},
		{"", "woodpecker", true}, // set to anything but a "no"
		{"", "0", false},
		{"", "false", false},
		{"0", "true", false}, // UNDERSTUDY_REQUIRE_LAB decides when it is set
		{"1", "false", true},
		{"  ", "1", true}, // blank counts as unset
	}
	for _, c := range cases {
		env := map[string]string{EnvRequireLab: c.require, EnvCI: c.ci}
		if got := requiredBy(func(k string) string { return env[k] }); got != c.want {
			t.Errorf("%s=%q %s=%q: required %v, want %v", EnvRequireLab, c.require, EnvCI, c.ci, got, c.want)
		}
	}
}

// TestRequiredReadsTheEnvironment checks that Required reads the real
// variables, not only the table's getenv.
func TestRequiredReadsTheEnvironment(t *testing.T) {
	t.Setenv(EnvRequireLab, "")
	t.Setenv(EnvCI, "1")
	if !Required() {
		t.Errorf("CI=1: Required() = false, want true (it used to accept only CI=true)")
	}
	t.Setenv(EnvRequireLab, "no")
	if Required() {
		t.Errorf("UNDERSTUDY_REQUIRE_LAB=no CI=1: Required() = true, want false")
	}
}

// recordTB records how Skip and Require end a test.
type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper()                      {}
func (r *recordTB) Fatalf(f string, args ...any) { r.end(&r.fatal, f) }
func (r *recordTB) Skipf(f string, args ...any)  { r.end(&r.skip, f) }

// end keeps the first way the test ended: the real ones do not return.
func (r *recordTB) end(into *string, f string) {
	if r.fatal == "" && r.skip == "" {
		*into = f
	}
}

// TestSkipFailsWhereRequired checks that Skip and Require fail, not skip,
// where the lab is required, and skip elsewhere.
func TestSkipFailsWhereRequired(t *testing.T) {
	t.Setenv("UNDERSTUDY_LAB_DIR", t.TempDir()) // no lab there
	for _, c := range []struct {
		require, ci string
		fail        bool
	}{{"", "", false}, {"1", "", true}, {"", "1", true}, {"", "yes", true}, {"0", "1", false}} {
		t.Setenv(EnvRequireLab, c.require)
		t.Setenv(EnvCI, c.ci)
		for name, call := range map[string]func(testing.TB){
			"Skip":    func(tb testing.TB) { Skip(tb, "no %s", "root") },
			"Require": func(tb testing.TB) { Require(tb) },
		} {
			r := &recordTB{TB: t}
			call(r)
			if failed := r.fatal != ""; failed != c.fail || (r.skip != "") == c.fail {
				t.Errorf("%s with %s=%q %s=%q: fatal %q, skip %q; want failing %v",
					name, EnvRequireLab, c.require, EnvCI, c.ci, r.fatal, r.skip, c.fail)
			}
		}
	}
}
