package cli

import (
	"archive/tar"
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// runTestHost is the local host of runPipeline over tables and queues of its own.
type runTestHost struct {
	*localHost
	registry string
}

// startRunTestHost serves a pipeline configured for the anonymous registry at
// registryHost, on storage isolated by a name suffix, with the pipeline's clock now.
func startRunTestHost(t *testing.T, registryHost string, now func() time.Time, opts ...pipeline.Option) *runTestHost {
	t.Helper()
	cs := testenv.Storage(t)
	cfg, err := config.Load([]string{
		config.EnvRegistries + "=" + registryHost + "=anonymous",
		config.EnvStorage + "=" + cs,
		config.EnvAdvisoriesURL + "=" + testenv.Advisories(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{ConnectionString: cs}, store.WithNameSuffix(testenv.Name(t)))
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
	return &runTestHost{localHost: r, registry: registryHost}
}

// run drives the pipeline once, redelivering failed messages at once.
func (r *runTestHost) run(t *testing.T) runStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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

// fixture is the part of a shared image's ground-truth fixture these tests read.
type fixture struct {
	ManifestDigest string `json:"manifestDigest"`
	IndexDigest    string `json:"indexDigest"`
	Manifests      []struct {
		Platform       string `json:"platform"`
		ManifestDigest string `json:"manifestDigest"`
	} `json:"manifests"`
	DpkgInventory map[string]struct {
		Packages []struct {
			Package       string `json:"package"`
			Version       string `json:"version"`
			SourcePackage string `json:"sourcePackage"`
			SourceVersion string `json:"sourceVersion"`
		} `json:"packages"`
		RemovedPackages []struct {
			Package string `json:"package"`
		} `json:"removedPackages"`
	} `json:"dpkgInventory"`
}

func loadFixture(t *testing.T, image string) fixture {
	t.Helper()
	raw, err := os.ReadFile(strings.TrimSuffix(testenv.Image(t, image), ".tar") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("decoding sidecar of %s: %v", image, err)
	}
	return f
}

// installed is the set of "package version" pairs of platform.
func (f fixture) installed(platform string) map[string]bool {
	out := map[string]bool{}
	for _, p := range f.DpkgInventory[platform].Packages {
		out[p.Package+" "+p.Version] = true
	}
	return out
}

// pushFixture pushes a shared OCI-layout fixture, image or index, unchanged to ref.
func pushFixture(t *testing.T, image, ref string) {
	t.Helper()
	dir := t.TempDir()
	unpack(t, testenv.Image(t, image), dir)
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s: index.json names %d manifests, want 1", image, len(im.Manifests))
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d := im.Manifests[0]
	if d.MediaType.IsIndex() {
		var idx v1.ImageIndex
		if idx, err = ii.ImageIndex(d.Digest); err == nil {
			err = remote.WriteIndex(r, idx, remote.WithContext(t.Context()))
		}
	} else {
		var img v1.Image
		if img, err = ii.Image(d.Digest); err == nil {
			err = remote.Write(r, img, remote.WithContext(t.Context()))
		}
	}
	if err != nil {
		t.Fatalf("pushing %s to %s: %v", image, ref, err)
	}
}

// unpack extracts the directories and regular files of an OCI-layout tar under dir.
func unpack(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("reading %s: %v", archive, err)
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if h.Typeflag == tar.TypeDir || h.Typeflag == tar.TypeReg {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err == nil {
			err = os.WriteFile(target, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// osvDebian is a Debian OSV record as the independent matcher reads it.
type osvDebian struct {
	ID        string   `json:"id"`
	Withdrawn string   `json:"withdrawn"`
	Aliases   []string `json:"aliases"`
	Upstream  []string `json:"upstream"`
	Affected  []struct {
		Package struct{ Ecosystem, Name string } `json:"package"`
		Ranges  []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

// independentFindings matches a platform's sidecar inventory against the shared Debian
// OSV export without Tidewatch: Debian:12 records of each source package whose
// ECOSYSTEM ranges cover the source version (compared by dpkg), keyed by the CVE the
// record names (else its id) and the binary package.
func independentFindings(t *testing.T, fx fixture, platform string) map[[2]string]bool {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(testenv.Advisories(t), "Debian", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	sources := map[string][]string{} // source "name version" → binary packages
	for _, p := range fx.DpkgInventory[platform].Packages {
		sources[p.SourcePackage+" "+p.SourceVersion] = append(sources[p.SourcePackage+" "+p.SourceVersion], p.Package)
	}
	want, dpkg := map[[2]string]bool{}, dpkgOrder{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var r osvDebian
		err = json.NewDecoder(rc).Decode(&r)
		rc.Close()
		if err != nil {
			t.Fatalf("decoding %s: %v", f.Name, err)
		}
		if r.Withdrawn != "" {
			continue
		}
		id := r.ID
		for _, a := range append(append([]string{}, r.Aliases...), r.Upstream...) {
			if strings.HasPrefix(a, "CVE-") {
				id = a
				break
			}
		}
		for src, binaries := range sources {
			name, version, _ := strings.Cut(src, " ")
			if affects(t, dpkg, r, name, version) {
				for _, b := range binaries {
					want[[2]string{id, b}] = true
				}
			}
		}
	}
	if len(want) == 0 {
		t.Fatalf("independent match of %s found nothing; the fixture or the advisory data changed", platform)
	}
	return want
}

// affects reports whether r's Debian:12 ranges for source cover version.
func affects(t *testing.T, dpkg dpkgOrder, r osvDebian, source, version string) bool {
	for _, a := range r.Affected {
		if a.Package.Ecosystem != "Debian:12" || a.Package.Name != source {
			continue
		}
		for _, rg := range a.Ranges {
			if rg.Type != "ECOSYSTEM" {
				continue
			}
			introduced, fixed := "", ""
			for _, ev := range rg.Events {
				if v, ok := ev["introduced"]; ok {
					introduced = v
				}
				if v, ok := ev["fixed"]; ok {
					fixed = v
				}
			}
			if introduced != "" && introduced != "0" && dpkg.less(t, version, introduced) {
				continue
			}
			if fixed == "" || dpkg.less(t, version, fixed) {
				return true
			}
		}
	}
	return false
}

// dpkgOrder caches answers of `dpkg --compare-versions a lt b`.
type dpkgOrder map[[2]string]bool

func (d dpkgOrder) less(t *testing.T, a, b string) bool {
	t.Helper()
	if v, ok := d[[2]string{a, b}]; ok {
		return v
	}
	err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		d[[2]string{a, b}] = true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		d[[2]string{a, b}] = false
	default:
		t.Fatalf("dpkg --compare-versions %q lt %q: %v", a, b, err)
	}
	return d[[2]string{a, b}]
}

// startOfTest is a fixed time close to now (the advisory fixtures must not look
// stale) that leaves the rest of the hour, and so of the UTC day, for offsets.
func startOfTest() time.Time { return time.Now().UTC().Truncate(time.Hour) }

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

// TestRunScansEveryPushedPlatform runs the whole pipeline once (timer, list tasks, scan
// tasks, through the host protocol) over a layered image and a multi-arch index.
func TestRunScansEveryPushedPlatform(t *testing.T) {
	reg := testenv.StartRegistry(t)
	app, multi := loadFixture(t, "debian12-layered"), loadFixture(t, "debian12-multiarch")
	pushFixture(t, "debian12-layered", reg.Ref("demo/app:1"))
	pushFixture(t, "debian12-multiarch", reg.Ref("demo/multi:1"))
	now := startOfTest()
	h := startRunTestHost(t, reg.Host, func() time.Time { return now })

	stats := h.run(t)
	if stats.poisoned != 0 || stats.retried != 0 {
		t.Errorf("run stats %+v, want nothing retried or poisoned", stats)
	}

	// One row per platform, with the sidecar's platform strings and digests.
	want := map[string]imageRow{}
	for _, fx := range []struct {
		repo, index string
		truth       fixture
	}{{"demo/app", "", app}, {"demo/multi", multi.IndexDigest, multi}} {
		for _, m := range fx.truth.Manifests {
			want[fx.repo+"@"+m.ManifestDigest] = imageRow{fx.repo, m.ManifestDigest, m.Platform, fx.index, store.StatusScanned, []string{"1"}}
		}
	}
	got := imageRows(append(h.images(t, "demo/app"), h.images(t, "demo/multi")...))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("images rows (-want +got):\n%s", diff)
	}

	for _, fx := range []struct {
		repo  string
		truth fixture
	}{{"demo/app", app}, {"demo/multi", multi}} {
		for _, m := range fx.truth.Manifests {
			t.Run(fx.repo+" "+m.Platform+" has exactly the independently matched findings, all installed", func(t *testing.T) {
				installed := fx.truth.installed(m.Platform)
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
					if f.State != store.StateActive || f.Registry != reg.Host {
						t.Errorf("finding %s of %s: State %q Registry %q, want active on %s", f.VulnerabilityID, f.Package, f.State, f.Registry, reg.Host)
					}
				}
				if diff := cmp.Diff(independentFindings(t, fx.truth, m.Platform), got); diff != "" {
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
// resolved by the new digest (DESIGN.md: a replaced image confirms remediation);
// those minbase still has stay active on the old digest.
func TestRunResolvesFindingsOfAReplacedTag(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oldFx, newFx := loadFixture(t, "debian12-layered"), loadFixture(t, "debian12-minbase")
	oldDigest, newDigest := oldFx.ManifestDigest, newFx.ManifestDigest
	first := startOfTest()
	second := first.Add(30 * time.Minute)
	var now atomic.Value // time.Time, read by the handler's goroutines
	now.Store(first)
	h := startRunTestHost(t, reg.Host, func() time.Time { return now.Load().(time.Time) })

	pushFixture(t, "debian12-layered", reg.Ref("demo/app:1"))
	h.run(t)
	pushFixture(t, "debian12-minbase", reg.Ref("demo/app:1"))
	now.Store(second)
	if stats := h.run(t); stats.completed != 3 || stats.retried != 0 {
		t.Errorf("second run stats %+v, want sweep, one listing and one scan, nothing retried", stats)
	}

	tag, err := h.store.GetTag(context.Background(), reg.Host, "demo/app", "1")
	if err != nil {
		t.Fatal(err)
	}
	if tag.Digest != newDigest || tag.PreviousDigest != oldDigest || !tag.ChangedAt.Equal(second) {
		t.Errorf("tags row = %+v, want Digest %s PreviousDigest %s ChangedAt %v", tag, newDigest, oldDigest, second)
	}

	// Expected state of each old finding, from the sidecars: a package minbase
	// installs at the same version keeps its findings; any other is remediated.
	stillInstalled := newFx.installed("linux/amd64")
	type state struct {
		State, ResolvedBy string
		ResolvedAt        time.Time
	}
	want, got := map[string]state{}, map[string]state{}
	for _, f := range h.findings(t, oldDigest) {
		key := f.VulnerabilityID + " " + f.Package + " " + f.InstalledVersion
		want[key] = state{State: store.StateResolved, ResolvedBy: newDigest, ResolvedAt: second}
		if stillInstalled[f.Package+" "+f.InstalledVersion] {
			want[key] = state{State: store.StateActive}
		}
		got[key] = state{f.State, f.ResolvedByDigest, f.ResolvedAt}
	}
	counts := map[string]int{}
	for _, s := range want {
		counts[s.State]++
	}
	if counts[store.StateActive] == 0 || counts[store.StateResolved] == 0 {
		t.Fatalf("old digest has %v findings by expected state; the test needs both kinds", counts)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings of the replaced digest %s (-want +got):\n%s", oldDigest, diff)
	}
	for _, f := range h.findings(t, newDigest) {
		if f.State != store.StateActive {
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
	fx := loadFixture(t, "debian12-minbase")
	pushFixture(t, "debian12-minbase", reg.Ref("demo/base:1"))
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
	now := startOfTest()
	h := startRunTestHost(t, registryHost, func() time.Time { return now },
		pipeline.WithRegistryOptions(registry.WithRetry(registry.RetryPolicy{Attempts: 1})))

	stats := h.run(t)
	if diff := cmp.Diff(runStats{invocations: 7, completed: 2, retried: 4, poisoned: 1}, stats, cmp.AllowUnexported(runStats{})); diff != "" {
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
	if img := imgs["demo/base@"+fx.ManifestDigest]; img.Status != store.StatusFailed {
		t.Errorf("images row of %s = %+v, want Status failed", fx.ManifestDigest, img)
	}
	run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), now.Format("20060102T150405Z"))
	if err != nil {
		t.Fatal(err)
	}
	if run.Retried != 5 || run.Scanned != 0 {
		t.Errorf("runs row counts %d retried and %d scanned, want 5 and 0", run.Retried, run.Scanned)
	}
}
