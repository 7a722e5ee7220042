package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/config"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server's handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records parses the JSON log lines written so far.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range bytes.Lines(b.buf.Bytes()) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// newTestServer starts an httptest server around NewServer with a JSON log capture.
func newTestServer(t *testing.T, funcs map[string]Func, opts ...Option) (*httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(NewServer(logger, funcs, opts...))
	t.Cleanup(srv.Close)
	return srv, logs
}

// post sends body to path and returns the status and decoded response body.
func post(t *testing.T, srv *httptest.Server, path, body string, header http.Header) (int, Response, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out Response
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response body %q is not a host response: %v", raw, err)
	}
	return resp.StatusCode, out, resp.Header
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatusMapping(t *testing.T) {
	cause := errors.New("registry said 503")
	tests := []struct {
		name       string
		result     error
		wantStatus int
		wantLogs   []string
	}{
		{"success is 200 with no logs", nil, 200, []string{}},
		{"a permanent failure is 200 so the host does not retry", Permanent(errors.New("manifest unknown")), 200, []string{"permanent failure: manifest unknown"}},
		{"a wrapped permanent failure is still permanent", fmt.Errorf("scanning: %w", Permanent(errors.New("digest mismatch"))), 200, []string{"permanent failure: scanning: digest mismatch"}},
		{"any other error is 500 so the host retries", fmt.Errorf("pulling: %w", cause), 500, []string{"transient failure: pulling: registry said 503"}},
		{"a deferred task is 200 and its delay is logged", fmt.Errorf("scanning: %w", Deferred(time.Hour, cause)), 200, []string{"deferred: re-enqueued, visible again in 3600s: registry said 503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newTestServer(t, map[string]Func{
				"scan": func(context.Context, *Invocation, *slog.Logger) error { return tt.result },
			})
			status, resp, header := post(t, srv, "/scan", fixture(t, "queue-host.json"), nil)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if got := header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			want := Response{Outputs: map[string]json.RawMessage{}, Logs: tt.wantLogs, ReturnValue: json.RawMessage("null")}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeferredDelay(t *testing.T) {
	tests := []struct {
		name   string
		logs   []string
		want   time.Duration
		wantOK bool
	}{
		{"the delay of a deferred response is read back", []string{deferredLog(&deferredError{delay: 90 * time.Second, err: errors.New("429")})}, 90 * time.Second, true},
		{"a response without the deferral line has no delay", []string{"permanent failure: manifest unknown"}, 0, false},
		{"a mangled deferral line has no delay", []string{deferredLogPrefix + "soon: 429"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DeferredDelay(Response{Logs: tt.logs})
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("DeferredDelay(%q) = %v, %v; want %v, %v", tt.logs, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestResponseShape(t *testing.T) {
	t.Run("an empty response has all three fields the host expects", func(t *testing.T) {
		got, err := json.Marshal(Response{})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"Outputs":{},"Logs":[],"ReturnValue":null}`; string(got) != want {
			t.Errorf("Response{} = %s, want %s", got, want)
		}
	})
}

func TestRouting(t *testing.T) {
	var called []string
	var mu sync.Mutex
	record := func(_ context.Context, inv *Invocation, _ *slog.Logger) error {
		mu.Lock()
		defer mu.Unlock()
		called = append(called, inv.Function)
		return nil
	}
	srv, logs := newTestServer(t, map[string]Func{"scan": record, "listrepo": record})

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantCalled []string
	}{
		{"the readiness probe GET / is 200", http.MethodGet, "/", "", 200, nil},
		{"the readiness probe POST / is 200", http.MethodPost, "/", "", 200, nil},
		{"a function path is matched whatever its case", http.MethodPost, "/ListRepo", fixture(t, "queue-host.json"), 200, []string{"listrepo"}},
		{"an unknown function is 404", http.MethodPost, "/sweep", fixture(t, "timer-host.json"), 404, nil},
		{"a nested path is not a function", http.MethodPost, "/scan/extra", fixture(t, "queue-host.json"), 404, nil},
		{"a GET on a function is 405", http.MethodGet, "/scan", "", 405, nil},
		{"a malformed envelope is 500 and the function is not called", http.MethodPost, "/scan", `{"Data":`, 500, nil},
		{"an envelope that is not an object is 500", http.MethodPost, "/scan", `"Data"`, 500, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			called = nil
			mu.Unlock()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tt.wantCalled, called); diff != "" {
				t.Errorf("functions called (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unknown function is logged as an error with its path", func(t *testing.T) {
		for _, rec := range logs.records(t) {
			if rec["level"] == "ERROR" && rec["path"] == "/sweep" {
				return
			}
		}
		t.Error("no ERROR log line with path /sweep")
	})
}

func TestPanics(t *testing.T) {
	srv, logs := newTestServer(t, map[string]Func{
		"scan":     func(context.Context, *Invocation, *slog.Logger) error { panic("index out of range") },
		"listrepo": func(context.Context, *Invocation, *slog.Logger) error { return nil },
	})
	t.Run("a panicking function is a 500", func(t *testing.T) {
		status, resp, _ := post(t, srv, "/scan", fixture(t, "queue-host.json"), nil)
		if status != 500 {
			t.Errorf("status = %d, want 500", status)
		}
		if diff := cmp.Diff([]string{"transient failure: panic: index out of range"}, resp.Logs); diff != "" {
			t.Errorf("Logs (-want +got):\n%s", diff)
		}
	})
	t.Run("the panic is logged with its stack", func(t *testing.T) {
		for _, rec := range logs.records(t) {
			if stack, _ := rec["stack"].(string); rec["panic"] == "index out of range" && strings.Contains(stack, "runFunc") {
				return
			}
		}
		t.Error("no log line with the panic value and a stack through runFunc")
	})
	t.Run("the server keeps serving after a panic", func(t *testing.T) {
		if status, _, _ := post(t, srv, "/listrepo", fixture(t, "queue-host.json"), nil); status != 200 {
			t.Errorf("status = %d, want 200", status)
		}
	})
}

func TestInvocationLogger(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct {
		name   string
		header http.Header
		wantID func(string) bool
	}{
		{"the host's invocation id header is used", http.Header{InvocationIDHeader: {"5b2a6f2e-0d6c-4f0e-9a57-1c0f3e8b2d41"}},
			func(id string) bool { return id == "5b2a6f2e-0d6c-4f0e-9a57-1c0f3e8b2d41" }},
		{"without the header a UUID is generated", nil, uuid.MatchString},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seenID string
			srv, logs := newTestServer(t, map[string]Func{
				"scan": func(_ context.Context, inv *Invocation, log *slog.Logger) error {
					seenID = inv.InvocationID
					log.Info("from the function", "digest", "sha256:abc")
					return nil
				},
			})
			if status, _, _ := post(t, srv, "/scan", fixture(t, "queue-host.json"), tt.header); status != 200 {
				t.Fatalf("status = %d, want 200", status)
			}
			if !tt.wantID(seenID) {
				t.Errorf("Invocation.InvocationID = %q, not the expected id", seenID)
			}
			var messages []string
			for _, rec := range logs.records(t) {
				if rec["function"] != "scan" || rec["invocationId"] != seenID {
					t.Errorf("log line %v lacks function=scan invocationId=%s", rec, seenID)
				}
				if rec["dequeueCount"] != float64(1) {
					t.Errorf("log line %v lacks dequeueCount=1", rec)
				}
				messages = append(messages, rec["msg"].(string))
			}
			if diff := cmp.Diff([]string{"from the function", "invocation succeeded"}, messages); diff != "" {
				t.Errorf("log messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBudget(t *testing.T) {
	t.Run("the function's context expires after the budget and that is transient", func(t *testing.T) {
		const budget = 50 * time.Millisecond
		var remaining time.Duration
		srv, _ := newTestServer(t, map[string]Func{
			"scan": func(ctx context.Context, _ *Invocation, _ *slog.Logger) error {
				deadline, ok := ctx.Deadline()
				if !ok {
					return Permanent(errors.New("no deadline"))
				}
				remaining = time.Until(deadline)
				<-ctx.Done()
				return fmt.Errorf("scanning: %w", ctx.Err())
			},
		}, WithBudget(budget))
		status, _, _ := post(t, srv, "/scan", fixture(t, "queue-host.json"), nil)
		if status != 500 {
			t.Errorf("status = %d, want 500", status)
		}
		if remaining <= 0 || remaining > budget {
			t.Errorf("remaining budget at start = %v, want within (0, %v]", remaining, budget)
		}
	})
	t.Run("without an option the default budget applies", func(t *testing.T) {
		var remaining time.Duration
		srv, _ := newTestServer(t, map[string]Func{
			"scan": func(ctx context.Context, _ *Invocation, _ *slog.Logger) error {
				deadline, _ := ctx.Deadline()
				remaining = time.Until(deadline)
				return nil
			},
		})
		post(t, srv, "/scan", fixture(t, "queue-host.json"), nil)
		if remaining <= config.DefaultScanBudget-time.Minute || remaining > config.DefaultScanBudget {
			t.Errorf("remaining budget = %v, want just under %v", remaining, config.DefaultScanBudget)
		}
	})
}

func TestNewServerRejectsNamesDifferingInCase(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewServer accepted scan and Scan")
		}
	}()
	noop := func(context.Context, *Invocation, *slog.Logger) error { return nil }
	NewServer(slog.New(slog.DiscardHandler), map[string]Func{"scan": noop, "Scan": noop})
}
