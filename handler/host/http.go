package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
)

// Binding names of an HTTP-triggered function (functions/registryevents/function.json).
const (
	// HTTPBinding is the name of the httpTrigger binding: the request.
	HTTPBinding = "req"
	// HTTPOutputBinding is the name of the http output binding: the response.
	HTTPOutputBinding = "res"
)

// HTTPRequest is an httpTrigger binding's value as the host sends it with request
// forwarding off: the caller's request, its body as text.
type HTTPRequest struct {
	URL     string
	Method  string
	Query   map[string]string
	Headers map[string][]string
	Params  map[string]string
	Body    []byte
}

// Header returns the first value of the request header name (case-insensitive), or "".
func (r *HTTPRequest) Header(name string) string {
	for k, v := range r.Headers {
		if len(v) > 0 && equalFold(k, name) {
			return v[0]
		}
	}
	return ""
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// wireHTTPRequest is the JSON shape of an HTTPRequest (wire-format.md). Query may
// arrive as an object or as a JSON string holding one ("{}" in the documentation).
type wireHTTPRequest struct {
	URL        string              `json:"Url"`
	Method     string              `json:"Method"`
	Query      json.RawMessage     `json:"Query"`
	Headers    map[string][]string `json:"Headers"`
	Params     map[string]string   `json:"Params"`
	Identities json.RawMessage     `json:"Identities,omitempty"`
	Body       json.RawMessage     `json:"Body,omitempty"`
}

// HTTPRequest decodes the HTTP request bound to binding. Body is the JSON string's
// text (decoded once: the host does not serialise it again), or the raw JSON when the
// host sent an object; an absent body is empty.
func (inv *Invocation) HTTPRequest(binding string) (*HTTPRequest, error) {
	raw, ok := inv.Data[binding]
	if !ok {
		return nil, fmt.Errorf("reading HTTP request %q: %w", binding, ErrNoBinding)
	}
	if isNull(raw) {
		return nil, fmt.Errorf("reading HTTP request %q: %w", binding, ErrNullBinding)
	}
	if text, isString, err := unquote(raw); isString {
		if err != nil {
			return nil, fmt.Errorf("reading HTTP request %q: %w", binding, err)
		}
		raw = json.RawMessage(text)
	}
	var w wireHTTPRequest
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("decoding HTTP request %q: %w", binding, err)
	}
	req := &HTTPRequest{URL: w.URL, Method: w.Method, Headers: w.Headers, Params: w.Params, Query: map[string]string{}}
	if q := w.Query; !isNull(q) {
		if text, isString, err := unquote(q); isString && err == nil {
			q = json.RawMessage(text)
		}
		if err := json.Unmarshal(q, &req.Query); err != nil {
			return nil, fmt.Errorf("decoding HTTP request %q query: %w", binding, err)
		}
	}
	if b := bytes.TrimSpace(w.Body); !isNull(b) {
		if b[0] == '"' {
			var text string
			if err := json.Unmarshal(b, &text); err != nil {
				return nil, fmt.Errorf("decoding HTTP request %q body: %w", binding, err)
			}
			req.Body = []byte(text)
		} else {
			req.Body = bytes.Clone(b)
		}
	}
	return req, nil
}

// HTTPResponse is the value of the http output binding: what the host answers the
// caller.
type HTTPResponse struct {
	StatusCode int
	Body       string
	Headers    map[string]string
}

type wireHTTPResponse struct {
	StatusCode string            `json:"statusCode"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// MarshalJSON writes the shape the host deserialises (statusCode as a string).
func (r HTTPResponse) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireHTTPResponse{StatusCode: strconv.Itoa(r.StatusCode), Body: r.Body, Headers: r.Headers})
}

// UnmarshalJSON accepts statusCode as a string or a number.
func (r *HTTPResponse) UnmarshalJSON(b []byte) error {
	var w struct {
		StatusCode json.RawMessage   `json:"statusCode"`
		Body       string            `json:"body"`
		Headers    map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	code := string(bytes.Trim(bytes.TrimSpace(w.StatusCode), `"`))
	n, err := strconv.Atoi(code)
	if err != nil {
		return fmt.Errorf("http output statusCode %q: %w", code, err)
	}
	*r = HTTPResponse{StatusCode: n, Body: w.Body, Headers: w.Headers}
	return nil
}

// HTTPFunc handles one HTTP-triggered invocation and says what the caller gets. A nil
// error or a [Permanent] one (a bad request, answered with resp's 4xx status) writes
// resp through the output binding; any other error is transient: the handler answers
// the host 500 and the host answers the caller 500, so the sender retries.
type HTTPFunc func(ctx context.Context, req *HTTPRequest, inv *Invocation, log *slog.Logger) (HTTPResponse, error)

// HTTPEnvelope builds the envelope the host sends for an httpTrigger bound to
// binding (request forwarding off): the request as an object, Body a string.
func HTTPEnvelope(binding string, req HTTPRequest, sys Sys) Envelope {
	query := req.Query
	if query == nil {
		query = map[string]string{}
	}
	w := wireHTTPRequest{URL: req.URL, Method: req.Method, Query: mustMarshal(query), Headers: req.Headers,
		Params: req.Params, Identities: json.RawMessage("[]")}
	if w.Params == nil {
		w.Params = map[string]string{}
	}
	if len(req.Body) > 0 {
		w.Body = jsonString(string(req.Body))
	}
	return Envelope{
		Data:     map[string]json.RawMessage{binding: mustMarshal(w)},
		Metadata: map[string]json.RawMessage{"sys": mustMarshal(sys)},
	}
}

// HTTPOutput reads the http output binding binding from a handler's response (what
// a stand-in for the host answers the caller). ok is false when it is absent.
func HTTPOutput(resp Response, binding string) (out HTTPResponse, ok bool, err error) {
	raw, present := resp.Outputs[binding]
	if !present || isNull(raw) {
		return HTTPResponse{}, false, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return HTTPResponse{}, true, fmt.Errorf("decoding http output %q: %w", binding, err)
	}
	return out, true, nil
}
