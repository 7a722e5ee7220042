package cli

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/pipeline"
)

// maxTriggerBody is what the stand-in accepts from an HTTP caller before answering
// 413 itself (the Functions host's own limit is 100 MB; the handler answers 413 for
// anything over its envelope bound, so a larger value here changes nothing).
const maxTriggerBody = 32 << 20

// httpFunctions are the functions the stand-in serves under /api/<name>, as the
// Functions host does for functions/<name>/function.json with an httpTrigger.
var httpFunctions = []string{pipeline.FuncRegistryEvents}

// triggerFront is the stand-in's public side for HTTP triggers: it checks the
// function key as the host does for authLevel "function" (header x-functions-key
// or query parameter code; 401 without a matching one), wraps the request in the
// host's envelope, POSTs it to the handler and answers the caller with the handler's
// http output binding (500 when the handler failed, as the host does).
type triggerFront struct {
	handler string // the handler's base URL
	key     string
}

func (f *triggerFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || !knownTrigger(name) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key := r.Header.Get("x-functions-key")
	if key == "" {
		key = r.URL.Query().Get("code")
	}
	if f.key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(f.key)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTriggerBody+1))
	if err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	if len(body) > maxTriggerBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		if k != "code" && len(v) > 0 {
			query[k] = v[0]
		}
	}
	headers := map[string][]string{}
	for k, v := range r.Header {
		if !strings.EqualFold(k, "x-functions-key") {
			headers[k] = v
		}
	}
	u := *r.URL
	u.Scheme, u.Host, u.RawQuery = "http", r.Host, ""
	env := host.HTTPEnvelope(host.HTTPBinding, host.HTTPRequest{URL: u.String(), Method: r.Method, Query: query,
		Headers: headers, Body: body}, host.NewSys(name, time.Now()))
	status, resp, err := host.Call(r.Context(), f.handler, name, env)
	if err != nil || status != http.StatusOK {
		http.Error(w, "function failed", http.StatusInternalServerError)
		return
	}
	out, present, err := host.HTTPOutput(resp, host.HTTPOutputBinding)
	if err != nil {
		http.Error(w, "function answered an unreadable http output", http.StatusInternalServerError)
		return
	}
	if !present {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	for k, v := range out.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(out.StatusCode)
	_, _ = io.WriteString(w, out.Body)
}

func knownTrigger(name string) bool {
	for _, n := range httpFunctions {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// serveTriggers listens on addr and serves the HTTP triggers in front of r's
// handler with function key key, until r is closed. It returns the base URL.
func (r *localHost) serveTriggers(addr, key string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening for HTTP triggers on %s: %w", addr, err)
	}
	r.serveTriggersOn(ln, key)
	return "http://" + ln.Addr().String(), nil
}

// serveTriggersOn is serveTriggers on an open listener.
func (r *localHost) serveTriggersOn(ln net.Listener, key string) {
	srv := &http.Server{Handler: &triggerFront{handler: r.base, key: key}, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	r.front = srv
}

// watch delivers queue messages until ctx ends, polling like the host when the
// queues are empty (tidewatch run --watch: HTTP triggers keep adding work).
func (r *localHost) watch(ctx context.Context, retryDelay time.Duration) (runStats, error) {
	var st runStats
	for ctx.Err() == nil {
		delivered := 0
		for _, qf := range r.queues() {
			n, err := r.deliver(ctx, qf.q, qf.function, retryDelay, &st)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return st, err
			}
			delivered += n
		}
		if delivered > 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return st, nil
}

// watchAfterTimers is drive's timer ticks and first drain, then watch.
func (r *localHost) watchAfterTimers(ctx context.Context, retryDelay time.Duration) (runStats, error) {
	st, err := r.drive(ctx, retryDelay)
	if err != nil {
		return st, err
	}
	more, err := r.watch(ctx, retryDelay)
	st.invocations += more.invocations
	st.completed += more.completed
	st.retried += more.retried
	st.deferred += more.deferred
	st.poisoned += more.poisoned
	return st, err
}

// readFunctionKey reads the stand-in's function key (first line of path); a key
// on the command line would show in process listings.
func readFunctionKey(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("--http needs --function-key-file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading function key: %w", err)
	}
	key, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(key) < 16 {
		return "", fmt.Errorf("function key in %s is shorter than 16 characters", path)
	}
	return key, nil
}
