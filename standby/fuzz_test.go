package standby

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/understudy/understudy/standby/api"
)

// requestBodies are the agent's request body types, by the fuzzer's
// selector: prepare, activate/deactivate/delete, probe.
var requestBodies = []func() any{
	func() any { return new(ServiceSpec) },
	func() any { return new(EpochRequest) },
	func() any { return new(ProbeRequest) },
}

// FuzzRequestBody feeds arbitrary bodies to decodeBody, the one decoder of
// every request body the agent's server reads. It must never panic; a
// refusal wraps ErrInvalid (so the server answers 400, not 500); what it
// accepts re-encodes to a fixed point, and a decoded ServiceSpec either
// validates or is refused with ErrInvalid.
func FuzzRequestBody(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name":"web","image":"understudy-busybox","mode":"warm","port":80,"cpu":1,"memory":67108864,"config":{"environment.IPADDR":"10.200.1.100/24"},"priority":100,"epoch":7}`))
	f.Add(uint8(0), []byte(`{"name":"db","image":"x","mode":"restore","port":5432,"epoch":18446744073709551615}`))
	f.Add(uint8(1), []byte(`{"epoch":3}`))
	f.Add(uint8(1), []byte(`{"epoch":-1}`))
	f.Add(uint8(1), []byte(``))
	f.Add(uint8(2), []byte(`{"address":"10.200.0.11","kind":"http","port":80,"timeout_ms":100,"path":"/","expect_status":200}`))
	f.Add(uint8(2), []byte(`{"address":"10.200.0.11","kind":"icmp","unknown":1}`))
	f.Add(uint8(0), []byte(`{"name":"web"}{"name":"api"}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		v := requestBodies[int(kind)%len(requestBodies)]()
		r := httptest.NewRequest(http.MethodPost, "/v1/fuzz", bytes.NewReader(body))
		if err := decodeBody(r, v); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("decodeBody(%q) = %v, not ErrInvalid", body, err)
			}
			return
		}
		if spec, ok := v.(*ServiceSpec); ok {
			if err := spec.Validate(); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate(%+v) = %v, not ErrInvalid", spec, err)
			}
		}
		once, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", body, err)
		}
		again := requestBodies[int(kind)%len(requestBodies)]()
		if err := decodeBody(httptest.NewRequest(http.MethodPost, "/v1/fuzz", bytes.NewReader(once)), again); err != nil {
			t.Fatalf("its own encoding %s is refused: %v", once, err)
		}
		if twice, _ := json.Marshal(again); !bytes.Equal(once, twice) {
			t.Fatalf("decoding %q is not stable: %s then %s", body, once, twice)
		}
	})
}

// answerTransport answers every request with one status and body.
type answerTransport struct {
	status int
	body   []byte
}

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: a.status, Body: io.NopCloser(bytes.NewReader(a.body)),
		Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
	}, nil
}

// FuzzClientAnswer feeds arbitrary answers of an agent to the monitor's
// client (the activation's address goes into DNS): it must never panic; a
// non-200 answer is a *RemoteError with that status, unwrapping to a
// sentinel only for a known code; a 200 answer is taken exactly when it
// decodes as an Activation.
func FuzzClientAnswer(f *testing.F) {
	f.Add(uint16(200), []byte(`{"service":"web","address":"10.200.1.100","mode":"warm","restored":false,"phases":[{"name":"running","ms":7.3}],"took_ms":7.5}`))
	f.Add(uint16(409), []byte(`{"error":"request epoch 2 is lower than 4","code":"stale_epoch"}`))
	f.Add(uint16(507), []byte(`{"error":"no slot","code":"no_capacity"}`))
	f.Add(uint16(500), []byte(`plain text`))
	f.Add(uint16(200), []byte(`{"address":12}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		code := 100 + int(status)%500
		c := NewClient("https://agent.invalid:9443", nil)
		c.http.Transport = answerTransport{status: code, body: body}
		act, err := c.Activate(context.Background(), 1, "web")
		if code != http.StatusOK {
			var re *RemoteError
			if !errors.As(err, &re) || re.Status != code {
				t.Fatalf("HTTP %d %q: error %v is not a RemoteError with that status", code, body, err)
			}
			var eb api.ErrorBody
			_ = json.Unmarshal(body, &eb)
			if s := errorForCode(eb.Code); errors.Unwrap(re) != nil && (s == nil || !errors.Is(err, s)) {
				t.Fatalf("HTTP %d %q: unwraps to %v for code %q", code, body, errors.Unwrap(re), eb.Code)
			}
			return
		}
		var want Activation
		if decodeErr := json.Unmarshal(body, &want); (decodeErr == nil) != (err == nil) {
			t.Fatalf("200 %q: client error %v, json error %v", body, err, decodeErr)
		}
		if err == nil && act.Address != want.Address {
			t.Fatalf("200 %q: address %q, want %q", body, act.Address, want.Address)
		}
	})
}
