package host

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// docsHTTPEnvelope is the HTTP trigger request of wire-format.md (Query as the string
// "{}", Body a string).
const docsHTTPEnvelope = `{
  "Data": {
    "req": {
      "Url": "http://localhost:7071/api/order",
      "Method": "POST",
      "Query": "{}",
      "Headers": {
        "Content-Type": [
          "application/json"
        ]
      },
      "Params": {},
      "Body": "{\"id\":1005,\"quantity\":2,\"color\":\"black\"}"
    }
  },
  "Metadata": {
  }
}`

func TestHTTPRequestDecodesTheDocumentedEnvelope(t *testing.T) {
	var env Envelope
	if err := json.Unmarshal([]byte(docsHTTPEnvelope), &env); err != nil {
		t.Fatal(err)
	}
	inv := &Invocation{Data: env.Data, Metadata: env.Metadata}
	got, err := inv.HTTPRequest(HTTPBinding)
	if err != nil {
		t.Fatal(err)
	}
	want := &HTTPRequest{URL: "http://localhost:7071/api/order", Method: "POST", Query: map[string]string{},
		Headers: map[string][]string{"Content-Type": {"application/json"}}, Params: map[string]string{},
		Body: []byte(`{"id":1005,"quantity":2,"color":"black"}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if ct := got.Header("content-type"); ct != "application/json" {
		t.Errorf("Header(content-type) = %q", ct)
	}
}

func TestHTTPFunctionsAnswerThroughTheOutputBinding(t *testing.T) {
	echo := func(ctx context.Context, req *HTTPRequest, inv *Invocation, log *slog.Logger) (HTTPResponse, error) {
		switch string(req.Body) {
		case "bad":
			return HTTPResponse{StatusCode: http.StatusBadRequest, Body: "no"}, Permanent(errors.New("bad body"))
		case "flaky":
			return HTTPResponse{}, errors.New("storage unavailable")
		}
		return HTTPResponse{StatusCode: http.StatusAccepted, Body: req.Query["q"] + ":" + string(req.Body)}, nil
	}
	srv, _ := newTestServer(t, nil, WithHTTPFunctions(map[string]HTTPFunc{"hook": echo}))
	for _, tc := range []struct {
		name       string
		body       string
		wantStatus int // the handler's answer to the host
		wantOutput *HTTPResponse
	}{
		{"a handled request is 200 with the function's response", "hi", 200, &HTTPResponse{StatusCode: 202, Body: "v:hi"}},
		{"a refused request is 200 with the function's 4xx", "bad", 200, &HTTPResponse{StatusCode: 400, Body: "no"}},
		{"a transient failure is 500 for the host", "flaky", 500, nil},
		{"a body too large for the envelope is 413 without running the function", strings.Repeat("x", maxEnvelopeBytes), 200, &HTTPResponse{StatusCode: 413, Body: "request body too large"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := HTTPEnvelope(HTTPBinding, HTTPRequest{Method: "POST", Query: map[string]string{"q": "v"}, Body: []byte(tc.body)}, NewSys("hook", time.Now()))
			status, resp, err := Call(context.Background(), srv.URL, "hook", env)
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus {
				t.Fatalf("handler status %d, want %d", status, tc.wantStatus)
			}
			out, ok, err := HTTPOutput(resp, HTTPOutputBinding)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantOutput == nil {
				if ok {
					t.Errorf("output %+v on a failed invocation", out)
				}
				return
			}
			if diff := cmp.Diff(*tc.wantOutput, out); diff != "" {
				t.Errorf("http output (-want +got):\n%s", diff)
			}
		})
	}
}
