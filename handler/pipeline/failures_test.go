package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// TestStorageFailuresAreTransient fails storage calls with 503: storage says a 503 is
// transient, so the scan goes back to the queue instead of being recorded failed.
func TestStorageFailuresAreTransient(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	digest := truth.ManifestDigest
	layersCall := func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/layers") }

	t.Run("a storage 503 on the layer cache returns the scan to the queue and records nothing failed", func(t *testing.T) {
		faults := testenv.NewStorageFaults()
		h := newHarness(t, reg.Host, withStoreOptions(store.WithPerCallPolicy(faults)))
		faults.FailMatching(layersCall)
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d (faults injected: %v)", status, http.StatusInternalServerError, faults.Failed())
		}
		faults.Clear()
		if img, ok := h.images(t, "demo/base")[digest]; ok {
			t.Errorf("a transient storage failure wrote an images row: %+v", img)
		}
	})

	t.Run("on the last delivery the same failure is recorded failed and still returned to the queue", func(t *testing.T) {
		faults := testenv.NewStorageFaults()
		h := newHarness(t, reg.Host, withStoreOptions(store.WithPerCallPolicy(faults)))
		faults.FailMatching(layersCall)
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), host.MaxDequeueCount, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		faults.Clear()
		img := h.images(t, "demo/base")[digest]
		if img.Status != scanner.StatusFailed || !strings.Contains(img.Error, "503") {
			t.Errorf("images row after the last delivery = %+v, want Status failed with an Error naming the 503", img)
		}
	})
}

// TestBadScanTasksAreRejectedWithoutImagesRows delivers scan tasks whose reference
// can never be valid: each is completed, recorded with its text in the
// rejected-messages run, and writes no images row.
func TestBadScanTasksAreRejectedWithoutImagesRows(t *testing.T) {
	h := newHarness(t, "127.0.0.1:5000")
	good := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, repository, digest string
	}{
		{"an md5 digest", "demo/app", "md5:d41d8cd98f00b204e9800998ecf8427e"},
		{"a truncated sha256 digest", "demo/app", "sha256:abc"},
		{"a control character in the repository", "demo/\x01app", good},
		{"an uppercase repository", "Demo/App", good},
		{"a repository naming another host and port", "evil.example:443/app", good},
	} {
		t.Run("a scan task with "+tc.name+" is completed, recorded and writes no images row", func(t *testing.T) {
			text, err := json.Marshal(store.ScanTask{V: store.MessageVersion, Registry: h.registry, Repository: tc.repository,
				Digest: tc.digest, Reason: store.ReasonPush, RunID: "test-run"})
			if err != nil {
				t.Fatal(err)
			}
			if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, text, 1, host.HostEncoding)); status != okStatus {
				t.Fatalf("HTTP %d, want %d", status, okStatus)
			}
			if rows := h.images(t, tc.repository); len(rows) != 0 {
				t.Errorf("a rejected task wrote images rows: %+v", rows)
			}
			run, err := h.store.GetRun(context.Background(), runDate(h.clock.Now()), "rejected-messages")
			if err != nil {
				t.Fatalf("reading the rejected-messages run: %v", err)
			}
			if !strings.Contains(run.Failures, strconv.Quote(string(text))) {
				t.Errorf("rejected-messages failures do not hold the message text %s:\n%s", text, run.Failures)
			}
		})
	}
}

func runDate(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// TestRunsCountEachMessageOnce checks the runs table under redelivery and fan-out.
func TestRunsCountEachMessageOnce(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))

	t.Run("the same scan message delivered twice counts once", func(t *testing.T) {
		h := newHarness(t, reg.Host)
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", truth.ManifestDigest, "1"), 1, host.HostEncoding)
		for i := range 2 {
			if status := h.call(t, pipeline.FuncScan, env); status != okStatus {
				t.Fatalf("delivery %d: HTTP %d, want %d", i+1, status, okStatus)
			}
		}
		run, err := h.store.GetRun(context.Background(), runDate(h.clock.Now()), "test-run")
		if err != nil {
			t.Fatal(err)
		}
		if run.Scanned != 1 || run.Invocations != 1 {
			t.Errorf("run counts Scanned %d over %d invocations, want 1 over 1", run.Scanned, run.Invocations)
		}
	})

	t.Run("32 concurrent list invocations of one run leave a summary equal to their sum", func(t *testing.T) {
		h := newHarness(t, reg.Host)
		const workers = 32
		text := h.listTask(t, "demo/base")
		var wg sync.WaitGroup
		statuses := make([]int, workers)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, _, err := host.Call(context.Background(), h.base, pipeline.FuncListRepo, delivery(pipeline.FuncListRepo, text, 1, host.HostEncoding))
				if err != nil {
					t.Error(err)
				}
				statuses[i] = s
			}()
		}
		wg.Wait()
		for i, s := range statuses {
			if s != okStatus {
				t.Errorf("invocation %d: HTTP %d, want %d", i, s, okStatus)
			}
		}
		run, err := h.store.GetRun(context.Background(), runDate(h.clock.Now()), "test-run")
		if err != nil {
			t.Fatal(err)
		}
		// Every listing sees the one digest; exactly one of them claims its scan.
		got := [3]int{run.Invocations, run.Manifests, run.Enqueued}
		if want := [3]int{workers, workers, 1}; got != want {
			t.Errorf("run counts (invocations, manifests, enqueued) = %v, want %v", got, want)
		}
		if tasks := h.scanTasks(t); len(tasks) == 0 {
			t.Error("no scan task was enqueued")
		}
	})
}

// hangingProxy forwards to a registry but holds every request whose path contains
// match until the client gives up, as a registry stalled mid-scan would.
func hangingProxy(t *testing.T, registryHost, match string) string {
	t.Helper()
	target, err := url.Parse("http://" + registryHost)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, match) {
			<-r.Context().Done()
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestBudgetExpiryLeavesARecord stalls layer downloads until the invocation budget
// runs out: the outcome is still recorded, with a context of its own.
func TestBudgetExpiryLeavesARecord(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	proxy := hangingProxy(t, reg.Host, "/blobs/")
	digest := truth.ManifestDigest
	const budget = 2 * time.Second

	t.Run("a scan out of budget goes back to the queue and is counted as retried with its cause", func(t *testing.T) {
		h := newHarness(t, proxy, withHostOptions(host.WithBudget(budget)))
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		run, err := h.store.GetRun(context.Background(), runDate(h.clock.Now()), "test-run")
		if err != nil {
			t.Fatalf("reading the run: %v", err)
		}
		if run.Retried != 1 || !strings.Contains(run.Failures, digest) {
			t.Errorf("run = %+v, want Retried 1 and a failure naming %s", run, digest)
		}
	})

	t.Run("on the last delivery a scan out of budget is recorded as a failed image", func(t *testing.T) {
		h := newHarness(t, proxy, withHostOptions(host.WithBudget(budget)))
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), host.MaxDequeueCount, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		img, ok := h.images(t, "demo/base")[digest]
		if !ok || img.Status != scanner.StatusFailed || img.Error == "" {
			t.Errorf("images row of %s = %+v (present %v), want Status failed with the cause", digest, img, ok)
		}
	})
}

// TestLongRetryAfterDefersTheTask answers 429 with Retry-After: 3600, longer than any
// budget: the task is put back with that delay and the delivery completes.
func TestLongRetryAfterDefersTheTask(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	proxy := startFaultProxy(t, reg.Host)

	for _, tc := range []struct {
		name     string
		function string
		match    string
		queue    func(*store.Store) *store.Queue
		task     func(h *harness) []byte
	}{
		{"a scan", pipeline.FuncScan, "/manifests/", (*store.Store).ScanTasks,
			func(h *harness) []byte { return h.scanTask(t, "demo/base", truth.ManifestDigest, "1") }},
		{"a listing", pipeline.FuncListRepo, "/tags/list", (*store.Store).ListTasks,
			func(h *harness) []byte { return h.listTask(t, "demo/base") }},
	} {
		t.Run(tc.name+" throttled for an hour is re-enqueued with that delay and completed", func(t *testing.T) {
			proxy.inject(t, fault{match: tc.match, status: http.StatusTooManyRequests, retryAfter: "3600"})
			h := newHarness(t, proxy.Host)
			text := tc.task(h)
			if status := h.call(t, tc.function, delivery(tc.function, text, 1, host.HostEncoding)); status != okStatus {
				t.Fatalf("HTTP %d, want %d", status, okStatus)
			}
			q := tc.queue(h.store)
			if visible := drain(t, q); len(visible) != 0 {
				t.Errorf("the deferred task is visible at once: %q", visible)
			}
			if n, err := q.ApproximateCount(context.Background()); err != nil || n != 1 {
				t.Errorf("queue %s holds %d messages (err %v), want the 1 deferred task", q.Name(), n, err)
			}
			run, err := h.store.GetRun(context.Background(), runDate(h.clock.Now()), "test-run")
			if err != nil {
				t.Fatal(err)
			}
			if run.Deferred != 1 || run.Failed != 0 {
				t.Errorf("run counts Deferred %d, Failed %d; want 1, 0", run.Deferred, run.Failed)
			}
			if rows := h.images(t, "demo/base"); len(rows) != 0 {
				t.Errorf("a deferred task wrote images rows: %+v", rows)
			}
		})
	}
}
