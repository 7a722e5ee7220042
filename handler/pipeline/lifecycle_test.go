package pipeline_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// replacedStates is what the old digest's rows must show once a tag moved from old
// to replacement: findings the replacement's platform lacks are fixed by it, the
// others untracked (they live on in the replacement's rows).
func replacedStates(old, replacement map[[2]string]bool, replacementDigest string) map[[2]string]rowState {
	out := map[[2]string]rowState{}
	for k := range old {
		out[k] = rowState{State: "resolved", Reason: "fixed", ResolvedBy: replacementDigest}
		if replacement[k] {
			out[k] = rowState{State: "resolved", Reason: "untracked"}
		}
	}
	return out
}

func TestSameDigestInTwoRepositoriesThenATagMoveInOneLeavesTheOtherActive(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	app, base := loadSidecar(t, layered), loadSidecar(t, minbase)
	wantApp, wantBase := expected(t, oracle, app, "linux/amd64"), expected(t, oracle, base, "linux/amd64")
	push(t, layered, reg.Ref("x/app:1"))
	push(t, layered, reg.Ref("y/app:1"))
	h := newHarness(t, reg.Host)
	h.sweep(t, "x/app")
	h.sweep(t, "y/app")
	for _, repo := range []string{"x/app", "y/app"} {
		if diff := cmp.Diff(allIn(wantApp, active), h.states(t, repo, app.ManifestDigest)); diff != "" {
			t.Errorf("%s after the first sweep (-want +got):\n%s", repo, diff)
		}
	}
	assertCountsMatchActiveFindings(t, h)

	push(t, minbase, reg.Ref("x/app:1"))
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "x/app")
	h.sweep(t, "y/app")
	t.Run("y keeps every finding of the digest active", func(t *testing.T) {
		if diff := cmp.Diff(allIn(wantApp, active), h.states(t, "y/app", app.ManifestDigest)); diff != "" {
			t.Errorf("y/app (-want +got):\n%s", diff)
		}
	})
	t.Run("x's rows of the old digest are fixed by the new digest, or untracked where it still has them", func(t *testing.T) {
		if diff := cmp.Diff(replacedStates(wantApp, wantBase, base.ManifestDigest), h.states(t, "x/app", app.ManifestDigest)); diff != "" {
			t.Errorf("x/app old digest (-want +got):\n%s", diff)
		}
	})
	t.Run("x's new digest has the independently matched findings, active", func(t *testing.T) {
		if diff := cmp.Diff(allIn(wantBase, active), h.states(t, "x/app", base.ManifestDigest)); diff != "" {
			t.Errorf("x/app new digest (-want +got):\n%s", diff)
		}
	})
	assertCountsMatchActiveFindings(t, h)
}

func TestATagMovedThroughThreeDigestsBetweenTwoSweepsResolvesTheFirstByTheLast(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	first, last := loadSidecar(t, layered), loadSidecar(t, minbase)
	wantFirst, wantLast := expected(t, oracle, first, "linux/amd64"), expected(t, oracle, last, "linux/amd64")
	push(t, layered, reg.Ref("z/app:1"))
	h := newHarness(t, reg.Host)
	h.sweep(t, "z/app")

	push(t, "distroless-style", reg.Ref("z/app:1")) // never observed
	push(t, minbase, reg.Ref("z/app:1"))
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "z/app")
	if diff := cmp.Diff(replacedStates(wantFirst, wantLast, last.ManifestDigest), h.states(t, "z/app", first.ManifestDigest)); diff != "" {
		t.Errorf("first digest (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allIn(wantLast, active), h.states(t, "z/app", last.ManifestDigest)); diff != "" {
		t.Errorf("last digest (-want +got):\n%s", diff)
	}
	assertCountsMatchActiveFindings(t, h)
}

func TestADigestTaggedTwiceStaysActiveWhenOneTagMoves(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	app := loadSidecar(t, layered)
	wantApp := expected(t, oracle, app, "linux/amd64")
	push(t, layered, reg.Ref("w/app:1"))
	push(t, layered, reg.Ref("w/app:stable"))
	h := newHarness(t, reg.Host)
	h.sweep(t, "w/app")

	push(t, minbase, reg.Ref("w/app:1"))
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "w/app")
	if diff := cmp.Diff(allIn(wantApp, active), h.states(t, "w/app", app.ManifestDigest)); diff != "" {
		t.Errorf("digest still tagged stable (-want +got):\n%s", diff)
	}
	if got := h.images(t, "w/app")[app.ManifestDigest].Tags; !cmp.Equal(got, []string{"stable"}) {
		t.Errorf("images row of the digest lists tags %v, want [stable]", got)
	}
	assertCountsMatchActiveFindings(t, h)
}

func TestATagMovedToADigestAlreadyScannedResolvesTheOldDigestFromTheListing(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	app, base := loadSidecar(t, layered), loadSidecar(t, minbase)
	wantApp, wantBase := expected(t, oracle, app, "linux/amd64"), expected(t, oracle, base, "linux/amd64")
	push(t, layered, reg.Ref("v/app:1"))
	push(t, minbase, reg.Ref("v/app:2"))
	h := newHarness(t, reg.Host)
	h.sweep(t, "v/app")

	push(t, minbase, reg.Ref("v/app:1"))
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "v/app")
	if tasks := h.scanTasks(t); len(tasks) != 0 {
		t.Fatalf("the listing enqueued %d scans; the test needs none", len(tasks))
	}
	if diff := cmp.Diff(replacedStates(wantApp, wantBase, base.ManifestDigest), h.states(t, "v/app", app.ManifestDigest)); diff != "" {
		t.Errorf("old digest (-want +got):\n%s", diff)
	}
	assertCountsMatchActiveFindings(t, h)
}

func TestADeletedTagResolvesItsDigestDeleted(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	app, base := loadSidecar(t, layered), loadSidecar(t, minbase)
	wantApp, wantBase := expected(t, oracle, app, "linux/amd64"), expected(t, oracle, base, "linux/amd64")
	push(t, layered, reg.Ref("d/app:1"))
	push(t, minbase, reg.Ref("d/app:2"))
	h := newHarness(t, reg.Host)
	h.sweep(t, "d/app")

	deleteManifest(t, reg, "d/app", app.ManifestDigest)
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "d/app")
	if diff := cmp.Diff(allIn(wantApp, rowState{State: "resolved", Reason: "deleted"}), h.states(t, "d/app", app.ManifestDigest)); diff != "" {
		t.Errorf("deleted digest (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allIn(wantBase, active), h.states(t, "d/app", base.ManifestDigest)); diff != "" {
		t.Errorf("digest still tagged (-want +got):\n%s", diff)
	}
	tag, err := h.store.GetTag(t.Context(), reg.Host, "d/app", "1")
	if err != nil || !tag.Deleted || tag.Digest != app.ManifestDigest {
		t.Errorf("tags row of d/app:1 = %+v (%v), want it kept, marked deleted, at %s", tag, err, app.ManifestDigest)
	}
	assertCountsMatchActiveFindings(t, h)
}

func TestAnIndexLosingAPlatformResolvesThatPlatformUntracked(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	multi := loadSidecar(t, multiarch)
	digests := multi.ManifestDigests()
	amd, arm := digests["linux/amd64"], digests["linux/arm64/v8"]
	wantAmd, wantArm := expected(t, oracle, multi, "linux/amd64"), expected(t, oracle, multi, "linux/arm64/v8")
	push(t, multiarch, reg.Ref("m/app:1"))
	h := newHarness(t, reg.Host)
	h.sweep(t, "m/app")

	smaller := pushWithoutPlatform(t, reg.Ref("m/app:1"), reg.Ref("m/app:1"), "arm64")
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "m/app")
	if diff := cmp.Diff(allIn(wantArm, rowState{State: "resolved", Reason: "untracked"}), h.states(t, "m/app", arm)); diff != "" {
		t.Errorf("dropped platform (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allIn(wantAmd, active), h.states(t, "m/app", amd)); diff != "" {
		t.Errorf("platform kept in the new index (-want +got):\n%s", diff)
	}
	if got := h.images(t, "m/app")[amd].IndexDigest; got != smaller {
		t.Errorf("images row of the kept platform names index %s, want %s", got, smaller)
	}
	assertCountsMatchActiveFindings(t, h)
}

func TestARescanWithoutAFindingResolvesItRescanAndSeeingItAgainReactivatesIt(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	base := loadSidecar(t, minbase)
	wantBase := expected(t, oracle, base, "linux/amd64")
	var gone [2]string
	for k := range wantBase {
		if gone == ([2]string{}) || k[0] < gone[0] {
			gone = k
		}
	}
	push(t, minbase, reg.Ref("r/app:1"))
	full := newHarness(t, reg.Host)
	firstSeen := full.clock.Now()
	if status := full.scan(t, "r/app", base.ManifestDigest, "1"); status != okStatus {
		t.Fatalf("first scan: HTTP %d", status)
	}

	fewer := newHarness(t, reg.Host, sharingStorageWith(full), withAdvisories(advisoriesWithout(t, gone[0])))
	fewer.clock.Set(firstSeen.Add(time.Hour))
	if status := fewer.scan(t, "r/app", base.ManifestDigest, "1"); status != okStatus {
		t.Fatalf("rescan with fewer advisories: HTTP %d", status)
	}
	t.Run("the finding the rescan lacks resolves rescan, the others stay active", func(t *testing.T) {
		want := map[[2]string]rowState{}
		for k := range wantBase {
			want[k] = active
			if k[0] == gone[0] {
				want[k] = rowState{State: "resolved", Reason: "rescan"}
			}
		}
		if diff := cmp.Diff(want, fewer.states(t, "r/app", base.ManifestDigest)); diff != "" {
			t.Errorf("after the rescan (-want +got):\n%s", diff)
		}
		assertCountsMatchActiveFindings(t, fewer)
	})

	full.clock.Set(firstSeen.Add(2 * time.Hour))
	if status := full.scan(t, "r/app", base.ManifestDigest, "1"); status != okStatus {
		t.Fatalf("rescan with every advisory: HTTP %d", status)
	}
	t.Run("seen again, it is active with no resolution and its first sighting kept", func(t *testing.T) {
		if diff := cmp.Diff(allIn(wantBase, active), full.states(t, "r/app", base.ManifestDigest)); diff != "" {
			t.Errorf("after the third scan (-want +got):\n%s", diff)
		}
		for _, f := range full.findings(t, base.ManifestDigest) {
			if f.VulnerabilityID == gone[0] && (!f.FirstSeenAt.Equal(firstSeen) || !f.ResolvedAt.IsZero()) {
				t.Errorf("reactivated %s: FirstSeenAt %v ResolvedAt %v, want %v and none", f.VulnerabilityID, f.FirstSeenAt, f.ResolvedAt, firstSeen)
			}
		}
		assertCountsMatchActiveFindings(t, full)
	})
}

func TestAFailedScanOfAnIndexThenASuccessLeavesNoIndexDigestRow(t *testing.T) {
	reg := testenv.StartRegistry(t)
	multi := loadSidecar(t, multiarch)
	push(t, multiarch, reg.Ref("f/app:1"))
	h := newHarness(t, reg.Host)
	outage := newHarness(t, reg.Host, sharingStorageWith(h), withAdvisories(t.TempDir()))
	if status := outage.scan(t, "f/app", multi.IndexDigest, "1"); status == okStatus {
		t.Fatalf("scan without advisories: HTTP %d, want a failure", status)
	}
	if img, ok := outage.images(t, "f/app")[multi.IndexDigest]; !ok || img.Status != "failed" {
		t.Fatalf("failed scan of the index recorded %+v, want a failed row keyed by the index digest", img)
	}
	if status := h.scan(t, "f/app", multi.IndexDigest, "1"); status != okStatus {
		t.Fatalf("scan: HTTP %d", status)
	}
	got := map[string]string{}
	for d, img := range h.images(t, "f/app") {
		got[d] = img.Status
	}
	want := map[string]string{}
	for _, m := range multi.Manifests {
		want[m.ManifestDigest] = "scanned"
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("images rows by digest (-want +got):\n%s", diff)
	}
	assertCountsMatchActiveFindings(t, h)
}

func TestAnAdvisoryOutageAfterAGoodScanKeepsTheRowAndRecordsTheError(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("o/app:1"))
	h := newHarness(t, reg.Host)
	if status := h.scan(t, "o/app", base.ManifestDigest, "1"); status != okStatus {
		t.Fatalf("scan: HTTP %d", status)
	}
	before := h.images(t, "o/app")[base.ManifestDigest]
	findingsBefore := h.states(t, "o/app", base.ManifestDigest)

	outage := newHarness(t, reg.Host, sharingStorageWith(h), withAdvisories(t.TempDir()))
	failedAt := h.clock.Now().Add(time.Hour)
	outage.clock.Set(failedAt)
	if status := outage.scan(t, "o/app", base.ManifestDigest, "1"); status == okStatus {
		t.Fatalf("scan without advisories: HTTP %d, want a failure", status)
	}
	after := outage.images(t, "o/app")[base.ManifestDigest]
	if after.LastError == "" || !after.LastErrorAt.Equal(failedAt) {
		t.Errorf("LastError %q at %v, want the advisory error at %v", after.LastError, after.LastErrorAt, failedAt)
	}
	want := before
	want.LastError, want.LastErrorAt = after.LastError, after.LastErrorAt
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("images row after the outage (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(findingsBefore, outage.states(t, "o/app", base.ManifestDigest)); diff != "" {
		t.Errorf("findings after the outage (-before +after):\n%s", diff)
	}
	assertCountsMatchActiveFindings(t, outage)
}

// requestCounter counts the storage requests a store sends.
type requestCounter struct{ n atomic.Int64 }

func (c *requestCounter) Do(req *policy.Request) (*http.Response, error) {
	c.n.Add(1)
	return req.Next()
}

func TestAScanTaskCarrying300000TagsReadsTheTagsPartitionOnce(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("big/app:1"))
	counter := &requestCounter{}
	h := newHarness(t, reg.Host, withStoreOptions(store.WithPerCallPolicy(counter)))
	tags := make([]string, 300_000)
	for i := range tags {
		tags[i] = strconv.FormatInt(int64(i), 36)
	}
	counter.n.Store(0)
	env := delivery(pipeline.FuncScan, h.scanTask(t, "big/app", base.ManifestDigest, tags...), 1, host.DocsEncoding)
	if status := h.call(t, pipeline.FuncScan, env); status != okStatus {
		t.Fatalf("scan: HTTP %d", status)
	}
	t.Logf("the scan sent %d storage requests", counter.n.Load())
	// One platform: layer cache, findings, inventory, images, tags, runs. Far below one
	// request per tag.
	if n := counter.n.Load(); n > 60 {
		t.Errorf("the scan sent %d storage requests, want at most 60", n)
	}
	assertCountsMatchActiveFindings(t, h)
}

func TestAScanThatFailedSinceTheLastGoodScanIsDueAgainTheNextDay(t *testing.T) {
	reg := testenv.StartRegistry(t)
	app, base := loadSidecar(t, layered), loadSidecar(t, minbase)
	push(t, layered, reg.Ref("due/app:1"))
	push(t, minbase, reg.Ref("due/app:2"))
	h := newHarness(t, reg.Host)
	noon := h.clock.Now().Truncate(24 * time.Hour).Add(12 * time.Hour)
	h.clock.Set(noon)
	h.sweep(t, "due/app")
	if imgs := h.images(t, "due/app"); len(imgs) != 2 {
		t.Fatalf("first sweep wrote %d images rows, want 2", len(imgs))
	}

	outage := newHarness(t, reg.Host, sharingStorageWith(h), withAdvisories(t.TempDir()))
	outage.clock.Set(noon.Add(time.Hour))
	if status := outage.scan(t, "due/app", base.ManifestDigest, "2"); status == okStatus {
		t.Fatalf("scan without advisories: HTTP %d, want a failure", status)
	}

	h.clock.Set(noon.Add(12*time.Hour + 5*time.Minute)) // the next UTC day, 12 h after the good scans
	list := delivery(pipeline.FuncListRepo, h.listTask(t, "due/app"), 1, host.HostEncoding)
	if status := h.call(t, pipeline.FuncListRepo, list); status != okStatus {
		t.Fatalf("listrepo: HTTP %d", status)
	}
	want := []queued{{Digest: base.ManifestDigest, Tags: []string{"2"}}}
	if diff := cmp.Diff(want, queuedOf(h.scanTasks(t))); diff != "" {
		t.Errorf("scan tasks (-want +got), %s scanned cleanly must not be due:\n%s", app.ManifestDigest, diff)
	}
	assertCountsMatchActiveFindings(t, h)
}

// racingTagWriter writes a tag row of its own just before the first transaction
// that writes tag rows (the only tables with a History column) goes out: the
// transaction then meets a row it did not read, as with a concurrent lister.
type racingTagWriter struct {
	armed atomic.Bool
	race  func() error
}

func (w *racingTagWriter) Do(req *policy.Request) (*http.Response, error) {
	if req.Raw().Method == http.MethodPost && strings.HasSuffix(req.Raw().URL.Path, "/$batch") && req.Body() != nil {
		body, err := io.ReadAll(req.Body())
		if err != nil {
			return nil, err
		}
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		if bytes.Contains(body, []byte(`"History"`)) && w.armed.CompareAndSwap(true, false) {
			if err := w.race(); err != nil {
				return nil, err
			}
		}
	}
	return req.Next()
}

func TestAListingThatRacesAnotherListersTagWriteReadsTheViewAgain(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("race/app:1"))
	racer := &racingTagWriter{}
	h := newHarness(t, reg.Host, withStoreOptions(store.WithPerCallPolicy(racer)))
	const racerDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	earlier := h.clock.Now().Add(-time.Hour)
	racer.race = func() error {
		return h.store.PutTags(t.Context(), reg.Host, "race/app", []store.Tag{{Name: "1", Digest: racerDigest, ChangedAt: earlier}})
	}
	racer.armed.Store(true)
	list := delivery(pipeline.FuncListRepo, h.listTask(t, "race/app"), 1, host.HostEncoding)
	if status := h.call(t, pipeline.FuncListRepo, list); status != okStatus {
		t.Fatalf("listrepo: HTTP %d, want %d", status, okStatus)
	}
	if racer.armed.Load() {
		t.Fatal("the racing write never happened")
	}
	got, err := h.store.GetTag(t.Context(), reg.Host, "race/app", "1")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Tag{Registry: reg.Host, Repository: "race/app", Name: "1", Digest: base.ManifestDigest, ChangedAt: h.clock.Now(),
		History: []store.TagMove{{Digest: racerDigest, Until: h.clock.Now()}}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.Tag{}, "ETag")); diff != "" {
		t.Errorf("tag row after the race (-want +got):\n%s", diff)
	}
}

func TestATagMovedBackToAnEarlierDigestReactivatesItsFindings(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	app, base := loadSidecar(t, layered), loadSidecar(t, minbase)
	wantApp, wantBase := expected(t, oracle, app, "linux/amd64"), expected(t, oracle, base, "linux/amd64")
	push(t, layered, reg.Ref("back/app:1"))
	h := newHarness(t, reg.Host)
	h.sweep(t, "back/app")
	push(t, minbase, reg.Ref("back/app:1"))
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "back/app")
	if diff := cmp.Diff(replacedStates(wantApp, wantBase, base.ManifestDigest), h.states(t, "back/app", app.ManifestDigest)); diff != "" {
		t.Fatalf("the first digest after the move (-want +got):\n%s", diff)
	}

	push(t, layered, reg.Ref("back/app:1"))
	h.clock.Set(h.clock.Now().Add(time.Hour))
	h.sweep(t, "back/app") // the first digest was scanned today: no new scan, the listing alone decides
	if diff := cmp.Diff(allIn(wantApp, active), h.states(t, "back/app", app.ManifestDigest)); diff != "" {
		t.Errorf("the first digest, tagged again (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(replacedStates(wantBase, wantApp, app.ManifestDigest), h.states(t, "back/app", base.ManifestDigest)); diff != "" {
		t.Errorf("the second digest, replaced in turn (-want +got):\n%s", diff)
	}
	assertCountsMatchActiveFindings(t, h)
}
