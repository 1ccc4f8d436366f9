package standby

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecodeBodyRefusesTrailingData: a request body is one JSON value; a
// second value (or any data) after it is refused with ErrInvalid, not
// silently dropped (the agent once took the first of two specs).
func TestDecodeBodyRefusesTrailingData(t *testing.T) {
	for _, body := range []string{
		`{"epoch":3} {"epoch":4}`,
		`{"epoch":3}}`,
		`{"epoch":3} trailing`,
	} {
		var req EpochRequest
		err := decodeBody(httptest.NewRequest(http.MethodPost, "/v1/services/web/activate", strings.NewReader(body)), &req)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than one JSON value") {
			t.Errorf("decodeBody(%q) = %v (epoch %d), want ErrInvalid naming the second value", body, err, req.Epoch)
		}
	}
	var req EpochRequest
	if err := decodeBody(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"epoch":3}`+"\n")), &req); err != nil || req.Epoch != 3 {
		t.Errorf("one value: epoch %d, %v; want 3, nil", req.Epoch, err)
	}
}
