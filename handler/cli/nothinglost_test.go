package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// flipAt inverts one byte of a response body, as a corrupting network would.
type flipAt struct {
	io.ReadCloser
	at, read int64
}

func (f *flipAt) Read(b []byte) (int, error) {
	n, err := f.ReadCloser.Read(b)
	if i := f.at - f.read; i >= 0 && i < int64(n) {
		b[i] ^= 0xff
	}
	f.read += int64(n)
	return n, err
}

// TestRunLosesNothing enqueues a mix of scan tasks, runs the local host until its
// queues drain, and accounts for every task: it ended as an images row (scanned, or
// failed with a reason), as a rejected-messages record with its text, or is in the
// poison queue with a failed images row.
func TestRunLosesNothing(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base, corrupt := testenv.ReadSidecar(t, "debian12-minbase"), testenv.ReadSidecar(t, "distroless-style")
	reg.Push(t, "debian12-minbase", "demo/base:1")
	reg.Push(t, "distroless-style", "demo/corrupt:1")
	reg.Push(t, "debian12-minbase", "flaky/app:1")
	corruptBlob := corrupt.Manifests[0].Layers[0].Digest

	// The registry as Tidewatch sees it: one layer corrupted in transit, and every
	// manifest of repository flaky/app answered 503.
	target, err := url.Parse("http://" + reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	forward.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+corruptBlob) {
			resp.Body = &flipAt{ReadCloser: resp.Body, at: 512}
		}
		return nil
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/flaky/") && strings.Contains(r.URL.Path, "/manifests/") {
			http.Error(w, "injected fault", http.StatusServiceUnavailable)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	registryHost := strings.TrimPrefix(proxy.URL, "http://")
	now := startOfTest(t)
	h := startRunTestHost(t, registryHost, func() time.Time { return now },
		pipeline.WithRegistryOptions(registry.WithRetry(registry.RetryPolicy{Attempts: 1})))

	type task struct {
		name             string
		repository       string
		digest           string
		wantStatus       string // of the images row; "" for a rejected message
		wantErrorContain string
	}
	missing := "sha256:" + strings.Repeat("0", 64)
	tasks := []task{
		{"a good image", "demo/base", base.ManifestDigest, scanner.StatusScanned, ""},
		{"a manifest the registry does not have", "demo/base", missing, scanner.StatusFailed, "manifest unknown"},
		{"an image whose layer is corrupted in transit", "demo/corrupt", corrupt.ManifestDigest, scanner.StatusFailed, corruptBlob},
		{"a registry failing transiently on every delivery", "flaky/app", base.ManifestDigest, scanner.StatusFailed, "503"},
		{"a bad message", "demo/base", "md5:d41d8cd98f00b204e9800998ecf8427e", "", ""},
	}
	texts := map[string][]byte{}
	for _, tc := range tasks {
		text, err := json.Marshal(store.ScanTask{V: store.MessageVersion, Registry: registryHost, Repository: tc.repository,
			Digest: tc.digest, Tags: []string{"1"}, Reason: store.ReasonPush, RunID: "mixed"})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.ScanTasks().Send(context.Background(), text); err != nil {
			t.Fatal(err)
		}
		texts[tc.name] = text
	}

	stats := h.run(t)
	t.Logf("run stats %+v", stats)

	poisoned := map[string]bool{}
	for _, q := range []*store.Queue{h.store.ScanTasks().Poison(), h.store.ListTasks().Poison()} {
		msgs, err := q.Receive(context.Background(), 32, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			poisoned[string(m.Text)] = true
		}
	}
	for _, q := range []*store.Queue{h.store.ScanTasks(), h.store.ListTasks()} {
		if n, err := q.ApproximateCount(context.Background()); err != nil || n != 0 {
			t.Errorf("queue %s still holds %d messages (%v) after the run drained", q.Name(), n, err)
		}
	}
	rejected, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), "rejected-messages")
	if err != nil {
		t.Fatalf("reading the rejected-messages run: %v", err)
	}

	for _, tc := range tasks {
		t.Run(tc.name+" is accounted for", func(t *testing.T) {
			text := texts[tc.name]
			if tc.wantStatus == "" {
				if !strings.Contains(rejected.Failures, strconv.Quote(string(text))) {
					t.Errorf("no rejected-messages record holds %s:\n%s", text, rejected.Failures)
				}
				return
			}
			var row *store.Image
			for _, img := range h.images(t, tc.repository) {
				if img.Digest == tc.digest || img.IndexDigest == tc.digest {
					row = &img
				}
			}
			switch {
			case row == nil:
				t.Fatalf("no images row for %s@%s (poisoned: %v)", tc.repository, tc.digest, poisoned[string(text)])
			case row.Status != tc.wantStatus:
				t.Errorf("images row status %q (error %q), want %q", row.Status, row.Error, tc.wantStatus)
			case !strings.Contains(row.Error, tc.wantErrorContain):
				t.Errorf("images row error %q does not give the reason (%q)", row.Error, tc.wantErrorContain)
			}
		})
	}
	t.Run("the transiently failing task waits in the poison queue", func(t *testing.T) {
		if !poisoned[string(texts["a registry failing transiently on every delivery"])] {
			t.Errorf("scan-tasks-poison does not hold the flaky task; poison holds %d messages", len(poisoned))
		}
	})
}

// TestRunDoesNotWaitForDeferredTasks answers every manifest request with 429 and
// Retry-After: 3600: the listing is deferred by an hour, which the run counts and
// leaves queued instead of waiting for it or poisoning it.
func TestRunDoesNotWaitForDeferredTasks(t *testing.T) {
	reg := testenv.StartRegistry(t)
	reg.Push(t, "debian12-minbase", "demo/base:1")
	target, err := url.Parse("http://" + reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	now := startOfTest(t)
	h := startRunTestHost(t, strings.TrimPrefix(proxy.URL, "http://"), func() time.Time { return now },
		pipeline.WithRegistryOptions(registry.WithRetry(registry.RetryPolicy{Attempts: 1})))

	stats := h.run(t)
	if stats.deferred != 1 || stats.poisoned != 0 || stats.retried != 0 {
		t.Errorf("run stats %+v, want 1 deferred and nothing retried or poisoned", stats)
	}
	if n, err := h.store.ListTasks().ApproximateCount(context.Background()); err != nil || n != 1 {
		t.Errorf("list-tasks holds %d messages (%v), want the deferred listing", n, err)
	}
}

// TestRunUnderStorageAndRegistryFaults drains a run with 5 % 500, 2 % 429 and 1 %
// connection resets on every storage call (after the SDK's own retries what is left
// reaches the pipeline) and the default fault mix on the registry: every repository
// ends with all of its platforms scanned and exactly the independently matched
// findings, and nothing is left in any queue.
func TestRunUnderStorageAndRegistryFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: real faults with real retry delays")
	}
	reg := testenv.StartRegistry(t)
	fixtures := map[string]string{
		"demo/base": "debian12-minbase", "demo/app": "debian12-layered",
		"demo/distroless": "distroless-style", "demo/multi": "debian12-multiarch",
	}
	for repo, image := range fixtures {
		reg.Push(t, image, repo+":1")
	}
	registryHost := testenv.StartFaultProxy(t, "http://"+reg.Host, "-seed", "11")
	cs := testenv.FaultyStorage(t, testenv.Storage(t),
		"-p500", "0.05", "-p429", "0.02", "-preset", "0.01", "-ptruncate", "0", "-pslow", "0")
	oracle := testenv.NewDebianOracle(t)
	now := startOfTest(t)
	h := startRunTestHostOn(t, cs, registryHost, func() time.Time { return now })

	stats := h.runFor(t, 8*time.Minute)
	t.Logf("run stats %+v", stats)
	if stats.poisoned != 0 {
		t.Errorf("%d messages were moved to poison", stats.poisoned)
	}
	for repo, image := range fixtures {
		truth := testenv.ReadSidecar(t, image)
		rows := imageRows(h.images(t, repo))
		for _, m := range truth.Manifests {
			t.Run(repo+" "+m.Platform+" is scanned with exactly the independently matched findings", func(t *testing.T) {
				if row := rows[repo+"@"+m.ManifestDigest]; row.Status != scanner.StatusScanned {
					t.Fatalf("images row of %s = %+v, want Status scanned", m.ManifestDigest, row)
				}
				got := map[[2]string]bool{}
				for _, f := range h.findings(t, m.ManifestDigest) {
					if f.State == lifecycle.StateActive {
						got[[2]string{f.VulnerabilityID, f.Package}] = true
					}
				}
				if diff := cmp.Diff(independentFindings(t, oracle, truth, m.Platform), got); diff != "" {
					t.Errorf("active (id, package) findings of %s (-independent +stored):\n%s", m.ManifestDigest, diff)
				}
			})
		}
	}
	for q, n := range h.queueLengths(t) {
		if n != 0 {
			t.Errorf("queue %s holds %d messages after the run, want 0", q, n)
		}
	}
}
