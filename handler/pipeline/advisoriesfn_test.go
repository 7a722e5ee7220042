package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// bucket serves ../shared/advisories (or the directory serve names) in the OSV bucket
// layout (<base>/<Folder>/all.zip, with Last-Modified and 304s from net/http),
// counting answers by status; broken makes every archive an HTML error page answered
// 200, failing every answer a 500; before, when set, runs first on every request.
type bucket struct {
	*httptest.Server
	broken  atomic.Bool
	failing atomic.Bool
	before  atomic.Pointer[func()]
	root    atomic.Pointer[string]
	mu      sync.Mutex
	status  map[int]int
}

func startBucket(t *testing.T) *bucket {
	t.Helper()
	b := &bucket{status: map[int]int{}}
	b.serve(testenv.Advisories(t))
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if before := b.before.Load(); before != nil {
			(*before)()
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		switch {
		case b.failing.Load():
			http.Error(rec, "backend error", http.StatusInternalServerError)
		case b.broken.Load():
			rec.Header().Set("Content-Type", "text/html")
			rec.WriteHeader(http.StatusOK)
			_, _ = rec.Write([]byte("<html><body>Service temporarily unavailable</body></html>"))
		default:
			http.FileServer(http.Dir(*b.root.Load())).ServeHTTP(rec, r)
		}
		b.mu.Lock()
		b.status[rec.status]++
		b.mu.Unlock()
	}))
	t.Cleanup(b.Close)
	return b
}

// serve makes the bucket serve the OSV export in dir.
func (b *bucket) serve(dir string) { b.root.Store(&dir) }

// answers returns and resets the count of answers by status.
func (b *bucket) answers() map[int]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.status
	b.status = map[int]int{}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// syncAdvisories fires the advisories timer the way the host does and returns the
// HTTP status.
func (h *harness) syncAdvisories(t *testing.T) int {
	t.Helper()
	env := host.TimerEnvelope(host.TimerBinding, host.TimerInfo{}, host.NewSys(pipeline.FuncAdvisories, time.Now().UTC()))
	return h.call(t, pipeline.FuncAdvisories, env)
}

// generation reads the generation current.json names, as the blob says.
func (h *harness) generation(t *testing.T) string {
	t.Helper()
	data, err := h.store.Advisories().Download(context.Background(), "current.json")
	if err != nil {
		t.Fatalf("reading current.json: %v", err)
	}
	var p struct{ Generation string }
	if err := json.Unmarshal(data, &p); err != nil || p.Generation == "" {
		t.Fatalf("current.json %s: %v", data, err)
	}
	return p.Generation
}

// advisoriesRun is the runs row of the advisories tick at the harness's clock.
func (h *harness) advisoriesRun(t *testing.T) store.Run {
	t.Helper()
	now := h.clock.Now().UTC()
	run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), "advisories-"+now.Format("20060102T150405Z"))
	if err != nil {
		t.Fatalf("reading the advisories run: %v", err)
	}
	return run
}

func TestAScanAgainstAnAdvisoryURLUsesTheGenerationTheAdvisoriesFunctionSynced(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	base := loadSidecar(t, minbase)
	want := expected(t, oracle, base, "linux/amd64")
	push(t, minbase, reg.Ref("demo/base:1"))
	b := startBucket(t)
	h := newHarness(t, reg.Host, withAdvisories(b.URL))

	t.Run("a scan before any sync fails transiently saying no generation was synced, and writes no clean row", func(t *testing.T) {
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != http.StatusInternalServerError {
			t.Fatalf("scan: HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		img := h.images(t, "demo/base")[base.ManifestDigest]
		if img.Status != scanner.StatusFailed || !strings.Contains(img.Error, "no advisory generation synced yet") {
			t.Errorf("images row = %+v, want Status failed saying no advisory generation synced yet", img)
		}
	})

	t.Run("the advisories function downloads every configured folder and answers 200", func(t *testing.T) {
		if status := h.syncAdvisories(t); status != okStatus {
			t.Fatalf("advisories: HTTP %d, want %d", status, okStatus)
		}
		if diff := cmp.Diff(map[int]int{http.StatusOK: 2}, b.answers()); diff != "" {
			t.Errorf("bucket answers by status, Debian and GIT (-want +got):\n%s", diff)
		}
		run := h.advisoriesRun(t)
		if run.Invocations != 1 || run.Failed != 0 || run.Failures != "" {
			t.Errorf("advisories run = %+v, want one invocation and no failure", run)
		}
		gen, checkedAt := h.pointerOf(t)
		if diff := cmp.Diff(used{gen, h.clock.Now()}, used{run.Generation, run.AdvisoryCheckedAt}); diff != "" {
			t.Errorf("advisories run names the generation it wrote, checked now (-want +got):\n%s", diff)
		}
		if !checkedAt.Equal(h.clock.Now()) || run.AdvisoryAgeMinutes != 0 {
			t.Errorf("pointer checkedAt %v, run age %d min; want the sync's time %v and 0", checkedAt, run.AdvisoryAgeMinutes, h.clock.Now())
		}
		for _, f := range []string{"Debian updated", "GIT updated"} {
			if !strings.Contains(run.Folders, f) {
				t.Errorf("Folders = %q, want it to say %q", run.Folders, f)
			}
		}
	})
	first := h.generation(t)
	synced := h.clock.Now()

	t.Run("a sweep's runs row names the generation serving when the run starts", func(t *testing.T) {
		env := host.TimerEnvelope(host.TimerBinding, host.TimerInfo{}, host.NewSys(pipeline.FuncSweep, time.Now().UTC()))
		if status := h.call(t, pipeline.FuncSweep, env); status != okStatus {
			t.Fatalf("sweep: HTTP %d", status)
		}
		now := h.clock.Now().UTC()
		run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), now.Format("20060102T150405Z"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(used{first, synced}, used{run.Generation, run.AdvisoryCheckedAt}); diff != "" {
			t.Errorf("sweep run (-want +got):\n%s", diff)
		}
	})

	t.Run("a scan then finds what the Debian oracle finds", func(t *testing.T) {
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
			t.Fatalf("scan: HTTP %d, want %d", status, okStatus)
		}
		if diff := cmp.Diff(allIn(want, active), h.states(t, "demo/base", base.ManifestDigest)); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
		if img := h.images(t, "demo/base")[base.ManifestDigest]; img.Status != scanner.StatusScanned {
			t.Errorf("images row = %+v, want Status scanned", img)
		}
	})

	checked := h.clock.Now().Add(time.Hour)
	t.Run("a second sync costs one 304 per folder and keeps the generation", func(t *testing.T) {
		h.clock.Set(checked)
		if status := h.syncAdvisories(t); status != okStatus {
			t.Fatalf("advisories: HTTP %d, want %d", status, okStatus)
		}
		if diff := cmp.Diff(map[int]int{http.StatusNotModified: 2}, b.answers()); diff != "" {
			t.Errorf("bucket answers by status (-want +got):\n%s", diff)
		}
		if got := h.generation(t); got != first {
			t.Errorf("generation = %s, want %s kept", got, first)
		}
		if _, checkedAt := h.pointerOf(t); !checkedAt.Equal(checked) {
			t.Errorf("pointer checkedAt = %v, want the 304's time %v", checkedAt, checked)
		}
		run := h.advisoriesRun(t)
		if diff := cmp.Diff(used{first, checked}, used{run.Generation, run.AdvisoryCheckedAt}); diff != "" {
			t.Errorf("advisories run of the 304 sync (-want +got):\n%s", diff)
		}
		for _, f := range []string{"Debian unchanged", "GIT unchanged"} {
			if !strings.Contains(run.Folders, f) {
				t.Errorf("Folders = %q, want it to say %q", run.Folders, f)
			}
		}
	})

	t.Run("an HTML page served as the export is rejected in runs and the generation keeps serving", func(t *testing.T) {
		b.broken.Store(true)
		h.clock.Set(h.clock.Now().Add(time.Hour))
		if status := h.syncAdvisories(t); status != okStatus {
			t.Fatalf("advisories: HTTP %d, want %d (a rejection is recorded, not retried)", status, okStatus)
		}
		run := h.advisoriesRun(t)
		if run.Failed != 2 || !strings.Contains(run.Failures, "Debian rejected") || !strings.Contains(run.Failures, "GIT rejected") {
			t.Errorf("advisories run = %+v, want both folders rejected with the reason", run)
		}
		if got := h.generation(t); got != first {
			t.Errorf("generation = %s, want %s kept", got, first)
		}
		if diff := cmp.Diff(used{first, checked}, used{run.Generation, run.AdvisoryCheckedAt}); diff != "" {
			t.Errorf("advisories run names the generation that keeps serving (-want +got):\n%s", diff)
		}
		if run.AdvisoryAgeMinutes != 60 {
			t.Errorf("AdvisoryAgeMinutes = %d, want 60 (an hour since the 304)", run.AdvisoryAgeMinutes)
		}
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
			t.Fatalf("scan after the rejection: HTTP %d, want %d", status, okStatus)
		}
		if diff := cmp.Diff(allIn(want, active), h.states(t, "demo/base", base.ManifestDigest)); diff != "" {
			t.Errorf("findings after the rejection (-want +got):\n%s", diff)
		}
	})

	t.Run("a scan is fresh past TIDEWATCH_MAX_DB_AGE after the download because the 304 checked it later", func(t *testing.T) {
		h.clock.Set(synced.Add(config.DefaultMaxDBAge + 30*time.Minute))
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
			t.Fatalf("scan: HTTP %d, want %d", status, okStatus)
		}
		if img := h.images(t, "demo/base")[base.ManifestDigest]; img.Status != scanner.StatusScanned || img.Generation != first ||
			!img.LastScannedAt.Equal(h.clock.Now()) || img.LastErrorAt.After(img.LastScannedAt) {
			t.Errorf("images row = %+v, want scanned now with generation %s", img, first)
		}
	})

	t.Run("a generation last checked longer than TIDEWATCH_MAX_DB_AGE ago fails scans as stale", func(t *testing.T) {
		h.clock.Set(checked.Add(config.DefaultMaxDBAge + time.Hour))
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != http.StatusInternalServerError {
			t.Fatalf("scan: HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		// The row keeps its last good result and records why this scan failed.
		if img := h.images(t, "demo/base")[base.ManifestDigest]; !strings.Contains(img.LastError, "stale") {
			t.Errorf("images row = %+v, want LastError saying the data is stale", img)
		}
		// This scan and the fresh one before it are the day's "test-run": its row names
		// the generation and the worst age, the stale scan's.
		run, err := h.store.GetRun(context.Background(), h.clock.Now().UTC().Format(time.DateOnly), "test-run")
		if err != nil {
			t.Fatal(err)
		}
		wantAge := int((config.DefaultMaxDBAge + time.Hour) / time.Minute)
		if run.Generation != first || run.AdvisoryAgeMinutes != wantAge || !strings.Contains(run.Failures, "stale") {
			t.Errorf("scans' run = %+v, want generation %s, AdvisoryAgeMinutes %d and a stale failure", run, first, wantAge)
		}
	})
}

func TestAnAdvisorySourceAnswering500IsATransientFailureRecordedInRunsThatWritesNoGeneration(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "backend error", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	h := newHarness(t, "registry.invalid", withAdvisories(failing.URL), withHostOptions(host.WithBudget(2*time.Second)))

	if status := h.syncAdvisories(t); status != http.StatusInternalServerError {
		t.Fatalf("advisories: HTTP %d, want %d so the host tries again", status, http.StatusInternalServerError)
	}
	if run := h.advisoriesRun(t); run.Failed != 1 || !strings.Contains(run.Failures, "500") {
		t.Errorf("advisories run = %+v, want one failure naming the 500", run)
	}
	if _, err := h.store.Advisories().Download(context.Background(), "current.json"); err == nil {
		t.Error("current.json was written by a sync that failed")
	}
}

func TestANewGenerationReachesScansOnceThePointerIsReadAgainFiveMinutesLater(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	base := loadSidecar(t, minbase)
	want := expected(t, oracle, base, "linux/amd64")
	var gone [2]string
	for k := range want {
		if gone == ([2]string{}) || k[0] < gone[0] {
			gone = k
		}
	}
	push(t, minbase, reg.Ref("demo/base:1"))
	b := startBucket(t)
	h := newHarness(t, reg.Host, withAdvisories(b.URL))
	start := h.clock.Now()
	if status := h.syncAdvisories(t); status != okStatus {
		t.Fatalf("first sync: HTTP %d", status)
	}
	if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
		t.Fatalf("first scan: HTTP %d", status)
	}
	first := h.generation(t)

	// The next export drops the records of one CVE the image has (and has no GIT
	// folder, which is rejected: the generation keeps the previous one).
	b.serve(advisoriesWithout(t, gone[0]))
	h.clock.Set(start.Add(time.Minute))
	if status := h.syncAdvisories(t); status != okStatus {
		t.Fatalf("second sync: HTTP %d", status)
	}
	if h.generation(t) == first {
		t.Fatal("the export without the CVE did not make a new generation")
	}

	t.Run("a scan within five minutes of the last pointer read still uses the generation it loaded", func(t *testing.T) {
		h.clock.Set(start.Add(4 * time.Minute))
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
			t.Fatalf("scan: HTTP %d", status)
		}
		if diff := cmp.Diff(allIn(want, active), h.states(t, "demo/base", base.ManifestDigest)); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	})
	t.Run("a scan five minutes after it uses the new generation and resolves the dropped CVE", func(t *testing.T) {
		h.clock.Set(start.Add(5 * time.Minute))
		if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
			t.Fatalf("scan: HTTP %d", status)
		}
		wantNow := allIn(want, active)
		wantNow[gone] = rowState{State: "resolved", Reason: "rescan"}
		if diff := cmp.Diff(wantNow, h.states(t, "demo/base", base.ManifestDigest)); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	})
}
