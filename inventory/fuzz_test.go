package inventory_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// FuzzParse: whatever the bytes, Parse never panics, and it returns either an
// inventory or a non-empty, positioned, sorted Errors.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "../examples/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(minimal))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := inventory.Parse("fuzz.yaml", data)
		if err == nil {
			if inv == nil {
				t.Fatal("Parse returned neither an inventory nor an error")
			}
			_ = inv.Summary()
			return
		}
		var errs inventory.Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("Parse error %v is not a non-empty inventory.Errors", err)
		}
		for i, e := range errs {
			if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("error without position or message: %#v", e)
			}
			if i > 0 && (errs[i-1].Line > e.Line || errs[i-1].Line == e.Line && errs[i-1].Col > e.Col) {
				t.Fatalf("errors not sorted: %v before %v", errs[i-1], e)
			}
		}
	})
}
