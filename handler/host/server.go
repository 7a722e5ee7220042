package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/config"
)

// Func handles one invocation. Return nil when done, Permanent(err) for a failure that
// was recorded and must not be retried, Deferred(delay, err) when the task was put back
// on its queue for later, and any other error for a transient failure the host should
// retry. ctx carries the invocation budget as its deadline.
type Func func(ctx context.Context, inv *Invocation, log *slog.Logger) error

// maxEnvelopeBytes bounds the request body: queue messages are at most 64 KiB, and
// an HTTP-triggered function whose caller's body makes the envelope larger answers
// 413 (see invokeHTTP).
const maxEnvelopeBytes = 4 << 20

// errEnvelopeTooLarge reports an envelope over maxEnvelopeBytes.
var errEnvelopeTooLarge = errors.New("invocation envelope too large")

// Option configures NewServer.
type Option func(*server)

// WithBudget sets the deadline each invocation's context gets (TIDEWATCH_SCAN_BUDGET).
// Without it the budget is config.DefaultScanBudget, below host.json's
// functionTimeout so a Func can still record its outcome.
func WithBudget(d time.Duration) Option {
	return func(s *server) { s.budget = d }
}

// route is one registered function under its canonical (registered) name: a Func,
// or an HTTPFunc for an HTTP-triggered function.
type route struct {
	name   string
	fn     Func
	httpFn HTTPFunc
}

// WithHTTPFunctions registers HTTP-triggered functions by name (their request is the
// binding [HTTPBinding], their answer the output binding [HTTPOutputBinding]).
func WithHTTPFunctions(funcs map[string]HTTPFunc) Option {
	return func(s *server) {
		for name, fn := range funcs {
			s.add(route{name: name, httpFn: fn})
		}
	}
}

// add registers rt, panicking on names that differ only in case.
func (s *server) add(rt route) {
	key := strings.ToLower(rt.name)
	if other, dup := s.routes[key]; dup {
		panic(fmt.Sprintf("host: function names %q and %q differ only in case", other.name, rt.name))
	}
	s.routes[key] = rt
}

// server is the http.Handler returned by NewServer.
type server struct {
	logger *slog.Logger
	routes map[string]route // by lower-cased function name
	budget time.Duration
}

// NewServer returns the handler the Functions host talks to. funcs maps function names
// (the folder names under functions/) to their Funcs; the request path matches them
// case-insensitively. GET or POST / answers 200 for the host's readiness probe.
// NewServer panics if two names differ only in case, as that is a programming error.
func NewServer(logger *slog.Logger, funcs map[string]Func, opts ...Option) http.Handler {
	s := &server{logger: logger, routes: make(map[string]route, len(funcs)), budget: config.DefaultScanBudget}
	for name, fn := range funcs {
		s.add(route{name: name, fn: fn})
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// ServeHTTP routes a request to the readiness probe or to a function.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		s.ready(w, r)
		return
	}
	rt, ok := s.routes[strings.ToLower(name)]
	if !ok {
		s.logger.Error("no function for request path; check functions/*/function.json against the registered handlers",
			"path", r.URL.Path, "method", r.Method)
		writeResponse(w, http.StatusNotFound, Response{Logs: []string{fmt.Sprintf("unknown function %q", name)}})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeResponse(w, http.StatusMethodNotAllowed, Response{Logs: []string{"functions are invoked with POST"}})
		return
	}
	if rt.httpFn != nil {
		s.invokeHTTP(w, r, rt)
		return
	}
	s.invoke(w, r, rt)
}

// ready answers the host's readiness probe, which only needs any HTTP response.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeResponse(w, http.StatusMethodNotAllowed, Response{})
		return
	}
	writeResponse(w, http.StatusOK, Response{})
}

// invoke decodes the envelope, runs the Func under the budget and writes the outcome.
func (s *server) invoke(w http.ResponseWriter, r *http.Request, rt route) {
	start := time.Now()
	inv, decodeErr := decodeInvocation(r.Body)
	inv.Function = rt.name
	inv.InvocationID = invocationID(r, inv)
	log := s.logger.With("function", inv.Function, "invocationId", inv.InvocationID)
	if decodeErr != nil {
		// The host always sends a well-formed envelope; failing loudly (and letting the
		// host retry) surfaces the bug instead of dropping the message.
		log.Error("malformed invocation envelope", "error", decodeErr)
		writeResponse(w, http.StatusInternalServerError, Response{Logs: []string{"malformed invocation envelope: " + decodeErr.Error()}})
		return
	}
	if n := inv.DequeueCount(); n > 0 {
		log = log.With("dequeueCount", n)
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.budget)
	defer cancel()
	err := runFunc(ctx, rt.fn, inv, log)

	elapsed := slog.Int64("durationMs", time.Since(start).Milliseconds())
	deferred, isDeferred := isDeferred(err)
	switch {
	case err == nil:
		log.Info("invocation succeeded", elapsed)
		writeResponse(w, http.StatusOK, Response{})
	case isDeferred:
		log.Warn("invocation deferred; its task was re-enqueued with a delay", "delay", deferred.delay.String(), "error", deferred.err, elapsed)
		writeResponse(w, http.StatusOK, Response{Logs: []string{deferredLog(deferred)}})
	case IsPermanent(err):
		log.Error("invocation failed permanently; recorded and not retried", "error", err, elapsed)
		writeResponse(w, http.StatusOK, Response{Logs: []string{"permanent failure: " + err.Error()}})
	default:
		log.Error("invocation failed; the host will retry it", "error", err, elapsed)
		writeResponse(w, http.StatusInternalServerError, Response{Logs: []string{"transient failure: " + err.Error()}})
	}
}

// panicError reports a panic recovered from a Func; it is transient, like any bug that
// a later deployment may fix, and ends in the poison queue if it persists.
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// runFunc calls fn, turning a panic into an error so the server keeps serving.
func runFunc(ctx context.Context, fn Func, inv *Invocation, log *slog.Logger) (err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("invocation panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = &panicError{value: v}
		}
	}()
	return fn(ctx, inv, log)
}

// decodeInvocation reads the host's {"Data":{…},"Metadata":{…}} body. It always returns
// a usable Invocation so the caller can log with whatever was decoded.
func decodeInvocation(body io.Reader) (*Invocation, error) {
	inv := &Invocation{}
	b, err := io.ReadAll(io.LimitReader(body, maxEnvelopeBytes+1))
	if err != nil {
		return inv, fmt.Errorf("reading request body: %w", err)
	}
	if len(b) > maxEnvelopeBytes {
		return inv, fmt.Errorf("%w: request body exceeds %d bytes", errEnvelopeTooLarge, maxEnvelopeBytes)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return inv, fmt.Errorf("decoding envelope: %w", err)
	}
	inv.Data, inv.Metadata = env.Data, env.Metadata
	return inv, nil
}

// invocationID takes the host's header, then an InvocationId in the metadata, and
// otherwise makes one up so every log line can still be correlated.
func invocationID(r *http.Request, inv *Invocation) string {
	if id := r.Header.Get(InvocationIDHeader); id != "" {
		return id
	}
	if id := inv.MetadataString("InvocationId"); id != "" {
		return id
	}
	var sys struct{ InvocationID string }
	if raw, ok := inv.Metadata["sys"]; ok && json.Unmarshal(raw, &sys) == nil && sys.InvocationID != "" {
		return sys.InvocationID
	}
	return newInvocationID()
}

// writeResponse writes resp as the JSON body with the given status.
func writeResponse(w http.ResponseWriter, status int, resp Response) {
	body, err := json.Marshal(resp)
	if err != nil {
		// Response holds only strings and raw JSON we produced; this cannot happen.
		body = []byte(`{"Outputs":{},"Logs":[],"ReturnValue":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var _ http.Handler = (*server)(nil)
