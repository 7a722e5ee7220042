package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// runTestHost is the local host of runPipeline over tables and queues of its own.
type runTestHost struct {
	*localHost
	registry string
	suffix   string // of the store's table and queue names
}

// startRunTestHost serves a pipeline configured for the anonymous registry at
// registryHost, on storage isolated by a name suffix, with the pipeline's clock now.
func startRunTestHost(t *testing.T, registryHost string, now func() time.Time, opts ...pipeline.Option) *runTestHost {
	t.Helper()
	return startRunTestHostOn(t, testenv.Storage(t), registryHost, now, opts...)
}

// startRunTestHostOn is startRunTestHost on the storage account of connection string cs.
func startRunTestHostOn(t *testing.T, cs, registryHost string, now func() time.Time, opts ...pipeline.Option) *runTestHost {
	t.Helper()
	return startRunTestHostWith(t, cs, registryHost, now, nil, opts...)
}

// startRunTestHostWith is startRunTestHostOn with extra settings
// ("TIDEWATCH_ECOSYSTEMS=Debian,Go").
func startRunTestHostWith(t *testing.T, cs, registryHost string, now func() time.Time, settings []string, opts ...pipeline.Option) *runTestHost {
	t.Helper()
	cfg, err := config.Load(append([]string{
		config.EnvRegistries + "=" + registryHost + "=anonymous",
		config.EnvStorage + "=" + cs,
		config.EnvAdvisoriesURL + "=" + testenv.Advisories(t),
	}, settings...))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	suffix := testenv.Name(t)
	st, err := store.Open(ctx, store.Config{ConnectionString: cs}, store.WithNameSuffix(suffix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.DeleteResources(context.Background()); err != nil {
			t.Logf("deleting test resources: %v", err)
		}
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := handlerFor(cfg, st, "test", log, append([]pipeline.Option{pipeline.WithClock(now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := serveLocally(ctx, h, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	r.timers = timersFor(cfg)
	return &runTestHost{localHost: r, registry: registryHost, suffix: suffix}
}

// run drives the pipeline once, redelivering failed messages at once.
func (r *runTestHost) run(t *testing.T) runStats {
	t.Helper()
	return r.runFor(t, time.Minute)
}

// runFor is run with a timeout.
func (r *runTestHost) runFor(t *testing.T, timeout time.Duration) runStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := r.drive(ctx, 0)
	if err != nil {
		t.Fatalf("driving the pipeline: %v (stats %+v)", err, st)
	}
	return st
}

func (r *runTestHost) images(t *testing.T, repository string) []store.Image {
	t.Helper()
	imgs, err := r.store.ListImages(context.Background(), r.registry, repository)
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

func (r *runTestHost) findings(t *testing.T, digest string) []store.Finding {
	t.Helper()
	fs, err := r.store.ListFindings(context.Background(), store.FindingFilter{Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// queueLengths counts the messages (visible or not) of every work queue and its poison queue.
func (r *runTestHost) queueLengths(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, q := range []*store.Queue{r.store.ListTasks(), r.store.ScanTasks()} {
		for _, q := range []*store.Queue{q, q.Poison()} {
			n, err := q.ApproximateCount(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out[q.Name()] = n
		}
	}
	return out
}

// independentFindings is the set of (vulnerability id, package) the Debian oracle
// expects on one platform of a fixture, matched without Tidewatch.
func independentFindings(t *testing.T, oracle *testenv.DebianOracle, fx testenv.Sidecar, platform string) map[[2]string]bool {
	t.Helper()
	want := map[[2]string]bool{}
	for _, f := range oracle.Findings(t, fx.DpkgInventory[platform].Packages) {
		want[[2]string{f.ID, f.Package}] = true
	}
	if len(want) == 0 {
		t.Fatalf("independent match of %s found nothing; the fixture or the advisory data changed", platform)
	}
	return want
}

// startOfTest is a fixed time at the shared advisory fixtures' retrieval (so they are
// fresh however long ago the checkout was) that leaves the rest of the hour, and so of
// the UTC day, for offsets.
func startOfTest(t testing.TB) time.Time {
	return testenv.AdvisoryTime(t, testenv.Advisories(t)).Truncate(time.Hour)
}

// imageRow is the part of an images row a scan decides.
type imageRow struct {
	Repository, Digest, Platform, IndexDigest, Status string
	Tags                                              []string
}

func imageRows(imgs []store.Image) map[string]imageRow {
	out := map[string]imageRow{}
	for _, img := range imgs {
		out[img.Repository+"@"+img.Digest] = imageRow{img.Repository, img.Digest, img.Platform, img.IndexDigest, img.Status, img.Tags}
	}
	return out
}

func TestRunWithAnAdvisoryURLSyncsBeforeTheSweepAndFindsWhatTheOracleFinds(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := testenv.ReadSidecar(t, "debian12-minbase")
	reg.Push(t, "debian12-minbase", "demo/base:1")
	want := independentFindings(t, testenv.NewDebianOracle(t), base, "linux/amd64")
	var requests atomic.Int32
	files := http.FileServer(http.Dir(testenv.Advisories(t)))
	bucket := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(bucket.Close)
	now := startOfTest(t)
	h := startRunTestHostWith(t, testenv.Storage(t), reg.Host, func() time.Time { return now },
		[]string{config.EnvAdvisoriesURL + "=" + bucket.URL})

	stats := h.run(t)
	if stats.poisoned != 0 || stats.retried != 0 {
		t.Errorf("run stats %+v, want nothing retried or poisoned", stats)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("the advisory bucket got %d requests, want 2 (Debian and GIT)", n)
	}
	got := map[[2]string]bool{}
	for _, f := range h.findings(t, base.ManifestDigest) {
		got[[2]string{f.VulnerabilityID, f.Package}] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestRunScansEveryPushedPlatform runs the whole pipeline once (timer, list tasks, scan
// tasks, through the host protocol) over a layered image and a multi-arch index.
func TestRunScansEveryPushedPlatform(t *testing.T) {
	reg := testenv.StartRegistry(t)
	app, multi := testenv.ReadSidecar(t, "debian12-layered"), testenv.ReadSidecar(t, "debian12-multiarch")
	reg.Push(t, "debian12-layered", "demo/app:1")
	reg.Push(t, "debian12-multiarch", "demo/multi:1")
	oracle := testenv.NewDebianOracle(t)
	now := startOfTest(t)
	h := startRunTestHost(t, reg.Host, func() time.Time { return now })

	stats := h.run(t)
	if stats.poisoned != 0 || stats.retried != 0 {
		t.Errorf("run stats %+v, want nothing retried or poisoned", stats)
	}

	// One row per platform, with the sidecar's platform strings and digests.
	want := map[string]imageRow{}
	for _, fx := range []struct {
		repo, index string
		truth       testenv.Sidecar
	}{{"demo/app", "", app}, {"demo/multi", multi.IndexDigest, multi}} {
		for _, m := range fx.truth.Manifests {
			want[fx.repo+"@"+m.ManifestDigest] = imageRow{fx.repo, m.ManifestDigest, m.Platform, fx.index, scanner.StatusScanned, []string{"1"}}
		}
	}
	got := imageRows(append(h.images(t, "demo/app"), h.images(t, "demo/multi")...))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("images rows (-want +got):\n%s", diff)
	}

	for _, fx := range []struct {
		repo  string
		truth testenv.Sidecar
	}{{"demo/app", app}, {"demo/multi", multi}} {
		for _, m := range fx.truth.Manifests {
			t.Run(fx.repo+" "+m.Platform+" has exactly the independently matched findings, all installed", func(t *testing.T) {
				installed := fx.truth.Installed(m.Platform)
				removed := map[string]bool{}
				for _, p := range fx.truth.DpkgInventory[m.Platform].RemovedPackages {
					removed[p.Package] = true
				}
				got := map[[2]string]bool{}
				for _, f := range h.findings(t, m.ManifestDigest) {
					got[[2]string{f.VulnerabilityID, f.Package}] = true
					if !installed[f.Package+" "+f.InstalledVersion] {
						t.Errorf("finding %s names %s %s, not installed on %s", f.VulnerabilityID, f.Package, f.InstalledVersion, m.Platform)
					}
					if removed[f.Package] {
						t.Errorf("finding %s names %s, purged by the top layer", f.VulnerabilityID, f.Package)
					}
					if f.State != "active" || f.Registry != reg.Host {
						t.Errorf("finding %s of %s: State %q Registry %q, want active on %s", f.VulnerabilityID, f.Package, f.State, f.Registry, reg.Host)
					}
				}
				if diff := cmp.Diff(independentFindings(t, oracle, fx.truth, m.Platform), got); diff != "" {
					t.Errorf("(id, package) findings of %s (-independent +stored):\n%s", m.ManifestDigest, diff)
				}
			})
		}
	}

	run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), now.Format("20060102T150405Z"))
	if err != nil {
		t.Fatalf("reading the runs row: %v", err)
	}
	wantRun := store.Run{Repositories: 2, Manifests: 2, Enqueued: 2, Scanned: 2}
	gotRun := store.Run{Repositories: run.Repositories, Manifests: run.Manifests, Enqueued: run.Enqueued, Scanned: run.Scanned, Failed: run.Failed, Retried: run.Retried}
	if diff := cmp.Diff(wantRun, gotRun); diff != "" {
		t.Errorf("runs row counters (-want +got):\n%s", diff)
	}
	for q, n := range h.queueLengths(t) {
		if n != 0 {
			t.Errorf("queue %s holds %d messages after the run, want 0", q, n)
		}
	}
}

// TestRunResolvesFindingsOfAReplacedTag moves demo/app:1 from the layered image to
// minbase between two runs: the old digest's findings that minbase no longer has are
// resolved "fixed" by the new digest (DESIGN.md: a replaced image confirms
// remediation); those minbase still has resolve "untracked" on the old digest (they
// live on in the new digest's rows).
func TestRunResolvesFindingsOfAReplacedTag(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oldFx, newFx := testenv.ReadSidecar(t, "debian12-layered"), testenv.ReadSidecar(t, "debian12-minbase")
	oldDigest, newDigest := oldFx.ManifestDigest, newFx.ManifestDigest
	first := startOfTest(t)
	second := first.Add(30 * time.Minute)
	var now atomic.Value // time.Time, read by the handler's goroutines
	now.Store(first)
	h := startRunTestHost(t, reg.Host, func() time.Time { return now.Load().(time.Time) })

	reg.Push(t, "debian12-layered", "demo/app:1")
	h.run(t)
	reg.Push(t, "debian12-minbase", "demo/app:1")
	now.Store(second)
	if stats := h.run(t); stats.completed != 3 || stats.retried != 0 {
		t.Errorf("second run stats %+v, want sweep, one listing and one scan, nothing retried", stats)
	}

	tag, err := h.store.GetTag(context.Background(), reg.Host, "demo/app", "1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.TagMove{{Digest: oldDigest, Until: second}}; tag.Digest != newDigest || !cmp.Equal(tag.History, want) || !tag.ChangedAt.Equal(second) {
		t.Errorf("tags row = %+v, want Digest %s History %v ChangedAt %v", tag, newDigest, want, second)
	}

	// Expected state of each old finding, from the sidecars: a package minbase
	// installs at the same version keeps its findings; any other is remediated.
	stillInstalled := newFx.Installed("linux/amd64")
	type state struct {
		State, Reason, ResolvedBy string
		ResolvedAt                time.Time
	}
	want, got := map[string]state{}, map[string]state{}
	for _, f := range h.findings(t, oldDigest) {
		key := f.VulnerabilityID + " " + f.Package + " " + f.InstalledVersion
		want[key] = state{State: "resolved", Reason: "fixed", ResolvedBy: newDigest, ResolvedAt: second}
		if stillInstalled[f.Package+" "+f.InstalledVersion] {
			want[key] = state{State: "resolved", Reason: "untracked", ResolvedAt: second}
		}
		got[key] = state{f.State, f.ResolvedReason, f.ResolvedByDigest, f.ResolvedAt}
	}
	counts := map[string]int{}
	for _, s := range want {
		counts[s.Reason]++
	}
	if counts["fixed"] == 0 || counts["untracked"] == 0 {
		t.Fatalf("old digest has %v findings by expected state; the test needs both kinds", counts)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings of the replaced digest %s (-want +got):\n%s", oldDigest, diff)
	}
	for _, f := range h.findings(t, newDigest) {
		if f.State != "active" {
			t.Errorf("finding %s of %s on the new digest is %s, want active", f.VulnerabilityID, f.Package, f.State)
		}
	}
}

// TestRunMovesAPersistentlyFailingScanToPoison makes the registry answer 500 to every
// manifest fetched by digest (a proxy in front of the real registry, configured as the
// registry host): the scan task is delivered five times, never deleted, then moved to
// scan-tasks-poison, and the image is recorded failed on the last delivery.
func TestRunMovesAPersistentlyFailingScanToPoison(t *testing.T) {
	reg := testenv.StartRegistry(t)
	fx := testenv.ReadSidecar(t, "debian12-minbase")
	reg.Push(t, "debian12-minbase", "demo/base:1")
	target, err := url.Parse("http://" + reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/sha256:") {
			http.Error(w, "injected fault", http.StatusInternalServerError)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	registryHost := strings.TrimPrefix(proxy.URL, "http://")
	now := startOfTest(t)
	h := startRunTestHost(t, registryHost, func() time.Time { return now },
		pipeline.WithRegistryOptions(registry.WithRetry(registry.RetryPolicy{Attempts: 1})))

	stats := h.run(t)
	if diff := cmp.Diff(runStats{invocations: 7, completed: 2, retried: 4, poisoned: 1}, stats, cmp.AllowUnexported(runStats{}), cmpopts.IgnoreFields(runStats{}, "busy")); diff != "" {
		t.Errorf("run stats (-want +got):\n%s", diff)
	}
	msgs, err := h.store.ScanTasks().Poison().Receive(context.Background(), 32, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("scan-tasks-poison holds %d messages, want 1", len(msgs))
	}
	task, err := store.DecodeScanTask(msgs[0].Text)
	if err != nil || task.Digest != fx.ManifestDigest {
		t.Errorf("poisoned message %q (%v), want the scan task of %s", msgs[0].Text, err, fx.ManifestDigest)
	}
	for _, q := range []*store.Queue{h.store.ListTasks(), h.store.ScanTasks()} {
		if n, err := q.ApproximateCount(context.Background()); err != nil || n != 0 {
			t.Errorf("queue %s holds %d messages (%v), want 0", q.Name(), n, err)
		}
	}
	imgs := imageRows(h.images(t, "demo/base"))
	if img := imgs["demo/base@"+fx.ManifestDigest]; img.Status != scanner.StatusFailed {
		t.Errorf("images row of %s = %+v, want Status failed", fx.ManifestDigest, img)
	}
	run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), now.Format("20060102T150405Z"))
	if err != nil {
		t.Fatal(err)
	}
	// The one scan message waits in poison after five deliveries; the sweep tick and
	// the list task were delivered once each.
	if got, want := [3]int{run.Retried, run.Deliveries, run.Scanned}, [3]int{1, 1 + 1 + 5, 0}; got != want || !strings.Contains(run.Failures, fx.ManifestDigest) {
		t.Errorf("runs row counts (retried, deliveries, scanned) = %v, want %v, with a failure naming %s", got, want, fx.ManifestDigest)
	}
}
