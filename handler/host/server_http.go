package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// invokeHTTP runs an HTTP-triggered function: the caller's request is the binding
// [HTTPBinding] of the envelope, the HTTPFunc's answer goes back in the output
// binding [HTTPOutputBinding] with handler status 200. A caller's body too large for
// the envelope is answered 413 without running the function; a transient failure is
// handler status 500, which the host turns into a 500 for the caller.
func (s *server) invokeHTTP(w http.ResponseWriter, r *http.Request, rt route) {
	start := time.Now()
	inv, decodeErr := decodeInvocation(r.Body)
	inv.Function = rt.name
	inv.InvocationID = invocationID(r, inv)
	log := s.logger.With("function", inv.Function, "invocationId", inv.InvocationID)
	if errors.Is(decodeErr, errEnvelopeTooLarge) {
		log.Warn("HTTP request body too large; answered 413", "error", decodeErr)
		writeHTTPOutput(w, HTTPResponse{StatusCode: http.StatusRequestEntityTooLarge, Body: "request body too large"}, "permanent failure: "+decodeErr.Error())
		return
	}
	var req *HTTPRequest
	if decodeErr == nil {
		req, decodeErr = inv.HTTPRequest(HTTPBinding)
	}
	if decodeErr != nil {
		log.Error("malformed invocation envelope", "error", decodeErr)
		writeResponse(w, http.StatusInternalServerError, Response{Logs: []string{"malformed invocation envelope: " + decodeErr.Error()}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.budget)
	defer cancel()
	resp, err := runHTTPFunc(ctx, rt.httpFn, req, inv, log)
	elapsed := slog.Int64("durationMs", time.Since(start).Milliseconds())
	switch {
	case err == nil:
		log.Info("invocation succeeded", "status", resp.StatusCode, elapsed)
		writeHTTPOutput(w, resp, "")
	case IsPermanent(err):
		if resp.StatusCode < 400 {
			resp = HTTPResponse{StatusCode: http.StatusBadRequest, Body: err.Error()}
		}
		log.Warn("request refused", "status", resp.StatusCode, "error", err, elapsed)
		writeHTTPOutput(w, resp, "permanent failure: "+err.Error())
	default:
		log.Error("invocation failed; the caller will be answered 500", "error", err, elapsed)
		writeResponse(w, http.StatusInternalServerError, Response{Logs: []string{"transient failure: " + err.Error()}})
	}
}

// runHTTPFunc calls fn, turning a panic into a transient error.
func runHTTPFunc(ctx context.Context, fn HTTPFunc, req *HTTPRequest, inv *Invocation, log *slog.Logger) (resp HTTPResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("invocation panicked", "panic", fmt.Sprint(v))
			resp, err = HTTPResponse{}, &panicError{value: v}
		}
	}()
	resp, err = fn(ctx, req, inv, log)
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	return resp, err
}

// writeHTTPOutput answers the host 200 with resp as the http output binding.
func writeHTTPOutput(w http.ResponseWriter, resp HTTPResponse, logLine string) {
	out := Response{Outputs: map[string]json.RawMessage{HTTPOutputBinding: mustMarshal(resp)}}
	if logLine != "" {
		out.Logs = []string{logLine}
	}
	writeResponse(w, http.StatusOK, out)
}
