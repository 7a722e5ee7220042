package pipeline_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

// TestRejectedMessagesAreRecorded sends messages that can never be processed: each is
// completed (HTTP 200, so the host does not retry it) and its text is kept in the runs
// table's rejected-messages row.
func TestRejectedMessagesAreRecorded(t *testing.T) {
	h := newHarness(t, "127.0.0.1:5000")
	for _, tc := range []struct {
		name     string
		function string
		text     string
	}{
		{"a scan task that is not JSON", pipeline.FuncScan, "scan me please"},
		{"a scan task of an unknown version", pipeline.FuncScan,
			`{"v":2,"registry":"127.0.0.1:5000","repository":"a/b","digest":"sha256:` + strings.Repeat("a", 64) + `","reason":"push"}`},
		{"a list task that is not JSON", pipeline.FuncListRepo, `{"v":1,"registry":`},
		{"a list task of an unknown version", pipeline.FuncListRepo, `{"v":7,"registry":"127.0.0.1:5000","repository":"a/b"}`},
		{"a scan task for an unconfigured registry", pipeline.FuncScan,
			`{"v":1,"registry":"elsewhere.example","repository":"a/b","digest":"sha256:` + strings.Repeat("b", 64) + `","reason":"push"}`},
	} {
		t.Run(tc.name+" is completed and recorded", func(t *testing.T) {
			env := delivery(tc.function, []byte(tc.text), 1, host.HostEncoding)
			if status := h.call(t, tc.function, env); status != okStatus {
				t.Fatalf("HTTP %d, want %d", status, okStatus)
			}
			run, err := h.store.GetRun(context.Background(), h.clock.Now().Format(time.DateOnly), "rejected-messages")
			if err != nil {
				t.Fatalf("reading the rejected-messages run: %v", err)
			}
			if !strings.Contains(run.Failures, strconv.Quote(tc.text)) {
				t.Errorf("rejected-messages failures do not hold the message text %q:\n%s", tc.text, run.Failures)
			}
		})
	}
}

// TestRegistryFaults scans and lists through a proxy that breaks the real registry's
// answers. Registry clients try once, so each fault reaches the pipeline.
func TestRegistryFaults(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/base:1"))
	proxy := startFaultProxy(t, reg.Host)
	digest := truth.ManifestDigest

	t.Run("a manifest that does not exist is recorded as a failed image and completed", func(t *testing.T) {
		h := newHarness(t, proxy.Host)
		missing := "sha256:" + strings.Repeat("0", 64)
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", missing, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		img, ok := h.images(t, "demo/base")[missing]
		if !ok || img.Status != scanner.StatusFailed || !strings.Contains(img.Error, missing) {
			t.Errorf("images row of %s = %+v, want Status failed and an Error naming the digest", missing, img)
		}
	})

	for _, f := range []fault{
		{match: "/manifests/sha256:", status: http.StatusInternalServerError},
		{match: "/manifests/sha256:", status: http.StatusTooManyRequests, retryAfter: "1"},
	} {
		t.Run("a scan meeting HTTP "+strconv.Itoa(f.status)+" is returned to the queue, and recorded failed only on the last delivery", func(t *testing.T) {
			proxy.inject(t, f)
			h := newHarness(t, proxy.Host)
			task := h.scanTask(t, "demo/base", digest, "1")
			if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, task, 1, host.HostEncoding)); status != http.StatusInternalServerError {
				t.Fatalf("first delivery: HTTP %d, want %d", status, http.StatusInternalServerError)
			}
			if img, ok := h.images(t, "demo/base")[digest]; ok {
				t.Errorf("a retried scan wrote an images row before its last delivery: %+v", img)
			}
			// The host sends DequeueCount as the string "5" on the last delivery.
			if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, task, 5, host.HostEncoding)); status != http.StatusInternalServerError {
				t.Fatalf("last delivery: HTTP %d, want %d", status, http.StatusInternalServerError)
			}
			img := h.images(t, "demo/base")[digest]
			if img.Status != scanner.StatusFailed || !strings.Contains(img.Error, strconv.Itoa(f.status)) {
				t.Errorf("images row after the last delivery = %+v, want Status failed with an Error naming HTTP %d", img, f.status)
			}
		})
	}

	t.Run("a listing meeting HTTP 503 is returned to the queue", func(t *testing.T) {
		proxy.inject(t, fault{match: "/tags/list", status: http.StatusServiceUnavailable})
		h := newHarness(t, proxy.Host)
		env := delivery(pipeline.FuncListRepo, h.listTask(t, "demo/base"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncListRepo, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		if tasks := h.scanTasks(t); len(tasks) != 0 {
			t.Errorf("a failed listing enqueued scans: %+v", tasks)
		}
	})

	t.Run("a layer corrupted in transit is a permanent failure, recorded", func(t *testing.T) {
		layer := truth.Manifests[0].Layers[0].Digest
		proxy.inject(t, fault{match: "/blobs/" + layer})
		h := newHarness(t, proxy.Host)
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		img := h.images(t, "demo/base")[digest]
		if img.Status != scanner.StatusFailed || !strings.Contains(img.Error, layer) {
			t.Errorf("images row of %s = %+v, want Status failed with an Error naming blob %s", digest, img, layer)
		}
		if n := len(h.findings(t, digest)); n != 0 {
			t.Errorf("a failed scan wrote %d findings", n)
		}
	})

	t.Run("missing advisories fail the scan transiently and mark the image failed, never clean", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "advisories")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, proxy.Host, withAdvisories(dir))
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		img := h.images(t, "demo/base")[digest]
		if img.Status != scanner.StatusFailed || !strings.Contains(img.Error, "advisor") {
			t.Errorf("images row of %s = %+v, want Status failed with an Error about advisories", digest, img)
		}
		if n := len(h.findings(t, digest)); n != 0 {
			t.Errorf("a scan without advisories wrote %d findings", n)
		}
	})

	t.Run("stale advisories fail the scan instead of matching old data", func(t *testing.T) {
		h := newHarness(t, proxy.Host)
		// Three days after the shared zips were retrieved they are past the default
		// TIDEWATCH_MAX_DB_AGE of 48h.
		h.clock.Set(testenv.AdvisoryTime(t, testenv.Advisories(t)).Add(72 * time.Hour))
		env := delivery(pipeline.FuncScan, h.scanTask(t, "demo/base", digest, "1"), 1, host.HostEncoding)
		if status := h.call(t, pipeline.FuncScan, env); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		img := h.images(t, "demo/base")[digest]
		if img.Status != scanner.StatusFailed || !strings.Contains(img.Error, "stale") {
			t.Errorf("images row of %s = %+v, want Status failed with an Error saying the data is stale", digest, img)
		}
		if n := len(h.findings(t, digest)); n != 0 {
			t.Errorf("a scan with stale advisories wrote %d findings", n)
		}
	})
}
