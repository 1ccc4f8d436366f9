package httpjson

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type body struct {
	Reason string `json:"reason"`
	Epoch  uint64 `json:"epoch"`
}

func decode(t *testing.T, s string, limit int64) (body, error) {
	t.Helper()
	var b body
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(s))
	return b, DecodeStrict(r, &b, limit)
}

func TestDecodeStrictAccepts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want body
	}{
		{`{"reason":"x","epoch":3}`, body{Reason: "x", Epoch: 3}},
		{"  {\"epoch\":7}\n", body{Epoch: 7}},
		{``, body{}},
		{" \n\t", body{}},
	} {
		got, err := decode(t, tc.in, 1024)
		if err != nil || got != tc.want {
			t.Errorf("DecodeStrict(%q) = %+v, %v; want %+v, nil", tc.in, got, err, tc.want)
		}
	}
}

func TestDecodeStrictRefuses(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		is       error
	}{
		{`{"reasn":"typo"}`, `"reasn"`, nil},
		{`{"epoch":3} {"epoch":4}`, "more than one JSON value", ErrTrailing},
		{`{"epoch":3}}`, "more than one JSON value", ErrTrailing},
		{`{"epoch":3} x`, "more than one JSON value", ErrTrailing},
		{`{"epoch":-1}`, "decode body", nil},
		{`{"reason":"` + strings.Repeat("a", 64) + `"}`, "read body", ErrTooLarge},
	} {
		_, err := decode(t, tc.in, 32)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeStrict(%q) = %v, want an error naming %s", tc.in, err, tc.want)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("DecodeStrict(%q) = %v, want %v in the chain", tc.in, err, tc.is)
		}
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Cache-Control", "no-cache")
	Write(rec, http.StatusTeapot, body{Reason: "r"})
	if rec.Code != http.StatusTeapot {
		t.Errorf("status %d, want 418", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q, want the caller's no-cache kept", cc)
	}
	if got := rec.Body.String(); got != `{"reason":"r","epoch":0}`+"\n" {
		t.Errorf("body %q", got)
	}
}
