package pipeline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// rematchFixture is a fixture image pushed as <repository>:1.
type rematchFixture struct {
	repository string
	fx         testenv.Sidecar
}

// TestARematchAfterANewAdvisorySetEqualsAFreshScanAndTheOracle scans the shared images
// with advisory set A (the shared Debian set with CVEs removed and fixed versions
// raised), then re-matches every stored inventory against set B (the full set) in
// pages of two rows, and compares with a fresh scan against B in separate storage
// and with the Debian oracle.
func TestARematchAfterANewAdvisorySetEqualsAFreshScanAndTheOracle(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	fixtures := []rematchFixture{
		{"r/min", loadSidecar(t, minbase)},
		{"r/layered", loadSidecar(t, layered)},
		{"r/multi", loadSidecar(t, multiarch)},
	}
	repositories := []string{}
	for i, f := range fixtures {
		push(t, []string{minbase, layered, multiarch}[i], reg.Ref(f.repository+":1"))
		repositories = append(repositories, f.repository)
	}
	// B's findings of minbase, sorted: the first two CVEs are removed from A, the
	// next two fixed ones raised; records fixed at an installed version are raised too.
	wantMin := oracle.Findings(t, fixtures[0].fx.DpkgInventory["linux/amd64"].Packages)
	var ch advisoryChanges
	for _, f := range wantMin {
		switch {
		case len(ch.removed) < 2 && !slices.Contains(ch.removed, f.ID):
			ch.removed = append(ch.removed, f.ID)
		case len(ch.raised) < 2 && f.FixedVersion != "" && !slices.Contains(ch.removed, f.ID) && !slices.Contains(ch.raised, f.ID):
			ch.raised = append(ch.raised, f.ID)
		}
	}
	ch.fixedAtInstalled = recordsFixedAt(t, fixtures[0].fx.DpkgInventory["linux/amd64"].Packages, 2)
	if len(ch.removed) < 2 || len(ch.raised) < 2 || len(ch.fixedAtInstalled) == 0 {
		t.Fatalf("the fixture offers too little to change: %+v", ch)
	}

	scanA := newHarness(t, reg.Host, withAdvisories(advisorySetA(t, ch)))
	scannedAt := scanA.clock.Now()
	for _, f := range fixtures {
		if status := scanA.scan(t, f.repository, topDigest(f.fx), "1"); status != okStatus {
			t.Fatalf("scan of %s with set A: HTTP %d", f.repository, status)
		}
	}
	before := scanA.snapshot(t, repositories...)

	rematcher := newHarness(t, reg.Host, sharingStorageWith(scanA), withPipelineOptions(pipeline.WithRematchPageSize(2)))
	rematchedAt := scannedAt.Add(time.Hour)
	rematcher.clock.Set(rematchedAt)
	pages := rematcher.rematchAll(t, "set-b")
	after := rematcher.snapshot(t, repositories...)

	fresh := newHarness(t, reg.Host)
	fresh.clock.Set(rematchedAt)
	for _, f := range fixtures {
		if status := fresh.scan(t, f.repository, topDigest(f.fx), "1"); status != okStatus {
			t.Fatalf("fresh scan of %s with set B: HTTP %d", f.repository, status)
		}
	}
	want := fresh.snapshot(t, repositories...)

	t.Run("set A changes what the first scan found", func(t *testing.T) {
		var onlyA, onlyB int
		for k, f := range before.Findings {
			if _, ok := want.Findings[k]; !ok && f.State == "active" {
				onlyA++
			}
		}
		for k := range want.Findings {
			if _, ok := before.Findings[k]; !ok {
				onlyB++
			}
		}
		if onlyA == 0 || onlyB == 0 {
			t.Fatalf("%d findings only in A, %d only in B: the test would prove nothing", onlyA, onlyB)
		}
	})
	t.Run("the active findings equal a fresh scan against B", func(t *testing.T) {
		active := map[string]store.Finding{}
		for k, f := range after.Findings {
			if f.State == "active" {
				active[k] = f
			}
		}
		if diff := cmp.Diff(want.Findings, active, cmpopts.IgnoreFields(store.Finding{}, "FirstSeenAt", "LastSeenAt")); diff != "" {
			t.Errorf("active findings after the rematch (-fresh scan +rematch):\n%s", diff)
		}
	})
	t.Run("the active findings are the oracle's, with its fixed versions", func(t *testing.T) {
		for _, f := range fixtures {
			for _, m := range platformsOf(f.fx) {
				wantFixes := map[[2]string]string{}
				for _, e := range oracle.Findings(t, f.fx.DpkgInventory[m.Platform].Packages) {
					wantFixes[[2]string{e.ID, e.Package}] = e.FixedVersion
				}
				got := map[[2]string]string{}
				for _, row := range after.Findings {
					if row.Repository == f.repository && row.Digest == m.ManifestDigest && row.State == "active" {
						got[[2]string{row.VulnerabilityID, row.Package}] = row.FixedVersion
					}
				}
				if diff := cmp.Diff(wantFixes, got); diff != "" {
					t.Errorf("%s %s: (id, package) → fixed version (-oracle +rematch):\n%s", f.repository, m.Platform, diff)
				}
			}
		}
	})
	t.Run("findings in A and B keep their first sighting; findings new in B are first seen at the rematch", func(t *testing.T) {
		for k, f := range after.Findings {
			if f.State != "active" {
				continue
			}
			wantFirst := rematchedAt
			if prev, ok := before.Findings[k]; ok && prev.State == "active" {
				wantFirst = scannedAt
			}
			if !f.FirstSeenAt.Equal(wantFirst) || !f.LastSeenAt.Equal(rematchedAt) {
				t.Errorf("%s: first seen %v, last seen %v; want %v and %v", k, f.FirstSeenAt, f.LastSeenAt, wantFirst, rematchedAt)
			}
		}
		for _, cve := range ch.removed {
			found := false
			for _, f := range after.Findings {
				if f.VulnerabilityID == cve && f.Repository == "r/min" {
					found = true
					if f.State != "active" || !f.FirstSeenAt.Equal(rematchedAt) {
						t.Errorf("%s removed from A: %s first seen %v, want active first seen %v", cve, f.State, f.FirstSeenAt, rematchedAt)
					}
				}
			}
			if !found {
				t.Errorf("%s removed from A is not found after the rematch", cve)
			}
		}
	})
	t.Run("findings only in A resolve advisory with B's generation", func(t *testing.T) {
		wantResolved := map[string]store.Finding{}
		for k, f := range before.Findings {
			if _, ok := want.Findings[k]; !ok && f.State == "active" {
				img := want.Images[f.Repository+"@"+f.Digest]
				f.State, f.ResolvedReason, f.ResolvedAt, f.ResolvedByGeneration = "resolved", "advisory", rematchedAt, img.Generation
				wantResolved[k] = f
			}
		}
		resolved := map[string]store.Finding{}
		for k, f := range after.Findings {
			if f.State != "active" {
				resolved[k] = f
			}
		}
		if diff := cmp.Diff(wantResolved, resolved, cmpopts.EquateApproxTime(0)); diff != "" {
			t.Errorf("resolved findings after the rematch (-want +got):\n%s", diff)
		}
	})
	t.Run("images rows show B's counts, status and generation and keep the scan's columns", func(t *testing.T) {
		wantImages := map[string]store.Image{}
		for k, img := range before.Images {
			w := want.Images[k]
			img.Counts, img.Generation, img.Status, img.Error, img.Packages = w.Counts, w.Generation, w.Status, w.Error, w.Packages
			img.LastMatchedAt = rematchedAt
			wantImages[k] = img
		}
		if diff := cmp.Diff(wantImages, after.Images); diff != "" {
			t.Errorf("images rows after the rematch (-want +got):\n%s", diff)
		}
		assertCountsMatchActiveFindings(t, rematcher)
	})
	t.Run("pages of two rows visit every row once, across partitions", func(t *testing.T) {
		rows := len(before.Images)
		if wantPages := (rows + 1) / 2; len(pages) != wantPages {
			t.Errorf("%d pages for %d rows, want %d", len(pages), rows, wantPages)
		}
		run, err := rematcher.store.GetRun(context.Background(), rematchedAt.Format(time.DateOnly), "rematch-run")
		if err != nil {
			t.Fatal(err)
		}
		if run.Rematched != rows || run.Rescanned != 0 || run.Failed != 0 || run.Invocations != len(pages) {
			t.Errorf("run counts %d rematched, %d rescanned, %d failed in %d invocations; want %d, 0, 0 in %d",
				run.Rematched, run.Rescanned, run.Failed, run.Invocations, rows, len(pages))
		}
		if n := len(rematcher.scanTasks(t)); n != 0 {
			t.Errorf("%d scan tasks enqueued, want none: every inventory is current", n)
		}
	})
	t.Run("every page delivered again leaves the same rows", func(t *testing.T) {
		rematcher.redeliver(t, pages)
		if diff := cmp.Diff(after, rematcher.snapshot(t, repositories...)); diff != "" {
			t.Errorf("rows after the pages were delivered twice (-once +twice):\n%s", diff)
		}
	})
}

// TestARematchSendsNoRequestToTheRegistry scans through a gate that then refuses
// every request with 500, and re-matches with more advisories: rows update, no
// request reaches the gate, and the row whose inventory an older analyzer wrote is
// sent to scan-tasks instead.
func TestARematchSendsNoRequestToTheRegistry(t *testing.T) {
	reg := testenv.StartRegistry(t)
	gate := startRegistryGate(t, reg.Host)
	oracle := testenv.NewDebianOracle(t)
	base, multi := loadSidecar(t, minbase), loadSidecar(t, multiarch)
	push(t, minbase, reg.Ref("r/min:1"))
	push(t, multiarch, reg.Ref("r/multi:1"))
	wantBase := expected(t, oracle, base, "linux/amd64")
	var gone [2]string
	for k := range wantBase {
		if gone == ([2]string{}) || k[0] < gone[0] {
			gone = k
		}
	}
	fewer := newHarness(t, gate.Host, withAdvisories(advisoriesWithout(t, gone[0])))
	for repo, digest := range map[string]string{"r/min": base.ManifestDigest, "r/multi": multi.IndexDigest} {
		if status := fewer.scan(t, repo, digest, "1"); status != okStatus {
			t.Fatalf("scan of %s: HTTP %d", repo, status)
		}
	}
	ctx := context.Background()
	oldPlatform := multi.Manifests[0].ManifestDigest
	old, err := fewer.store.GetImage(ctx, gate.Host, "r/multi", oldPlatform)
	if err != nil {
		t.Fatal(err)
	}
	old.Analyzer = "tidewatch-layer/0 os/dpkg@0"
	if err := fewer.store.PutImage(ctx, old); err != nil {
		t.Fatal(err)
	}

	gate.closed.Store(true)
	full := newHarness(t, gate.Host, sharingStorageWith(fewer), withPipelineOptions(pipeline.WithRematchPageSize(1)))
	rematchedAt := fewer.clock.Now().Add(time.Hour)
	full.clock.Set(rematchedAt)
	full.rematchAll(t, "full")

	t.Run("no request reaches the registry", func(t *testing.T) {
		if n := gate.refused.Load(); n != 0 {
			t.Errorf("%d registry requests during the rematch, want 0", n)
		}
	})
	t.Run("the finding the first advisories lacked is active, first seen at the rematch", func(t *testing.T) {
		if diff := cmp.Diff(allIn(wantBase, active), full.states(t, "r/min", base.ManifestDigest)); diff != "" {
			t.Errorf("findings of r/min (-want +got):\n%s", diff)
		}
		for _, f := range full.findings(t, base.ManifestDigest) {
			if f.VulnerabilityID == gone[0] && !f.FirstSeenAt.Equal(rematchedAt) {
				t.Errorf("%s first seen %v, want the rematch %v", gone[0], f.FirstSeenAt, rematchedAt)
			}
		}
		assertCountsMatchActiveFindings(t, full)
	})
	t.Run("the row of an older analyzer is sent to scan-tasks and left as it was", func(t *testing.T) {
		want := []store.ScanTask{{V: 1, Registry: gate.Host, Repository: "r/multi", Digest: multi.IndexDigest,
			Tags: []string{"1"}, Reason: store.ReasonRescan, RunID: "rematch-run"}}
		if diff := cmp.Diff(want, full.scanTasks(t)); diff != "" {
			t.Errorf("scan tasks (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(old, full.images(t, "r/multi")[oldPlatform]); diff != "" {
			t.Errorf("row of the older analyzer (-before +after):\n%s", diff)
		}
		if other := full.images(t, "r/multi")[multi.Manifests[1].ManifestDigest]; !other.LastMatchedAt.Equal(rematchedAt) || other.Generation == old.Generation {
			t.Errorf("the other platform was matched at %v with generation %s, want %v and a new generation", other.LastMatchedAt, other.Generation, rematchedAt)
		}
	})
	t.Run("the run counts the rows re-matched and the rescan", func(t *testing.T) {
		run, err := full.store.GetRun(ctx, rematchedAt.Format(time.DateOnly), "rematch-run")
		if err != nil {
			t.Fatal(err)
		}
		if run.Rematched != 2 || run.Rescanned != 1 {
			t.Errorf("run counts %d rematched and %d rescanned, want 2 and 1", run.Rematched, run.Rescanned)
		}
	})
}

// TestAStaleDigestIsReMatchedThroughListRepoWithoutPullingIt sweeps a repository,
// lists it again 25 hours later (the digest is due by age), then closes the registry:
// the listing sent one rematch task scoped to the digest and no scan task, and that
// task re-matches the row without a registry request.
func TestAStaleDigestIsReMatchedThroughListRepoWithoutPullingIt(t *testing.T) {
	reg := testenv.StartRegistry(t)
	gate := startRegistryGate(t, reg.Host)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("r/min:1"))
	h := newHarness(t, gate.Host)
	scannedAt := h.clock.Now()
	h.sweep(t, "r/min")
	scanned := h.images(t, "r/min")[base.ManifestDigest]
	if !scanned.LastScannedAt.Equal(scannedAt) || scanned.Analyzer == "" {
		t.Fatalf("the sweep left %+v, want a row scanned at %v with its analyzer", scanned, scannedAt)
	}

	later := scannedAt.Add(25 * time.Hour)
	h.clock.Set(later)
	list := delivery(pipeline.FuncListRepo, h.listTask(t, "r/min"), 1, host.HostEncoding)
	if status := h.call(t, pipeline.FuncListRepo, list); status != okStatus {
		t.Fatalf("second listing: HTTP %d", status)
	}
	if tasks := h.scanTasks(t); len(tasks) != 0 {
		t.Errorf("the listing enqueued scans %+v, want none", tasks)
	}
	tasks := h.rematchTasks(t)
	want := &store.RematchScope{Registry: gate.Host, Repository: "r/min", Digest: base.ManifestDigest}
	if len(tasks) != 1 || !cmp.Equal(want, tasks[0].Scope) {
		t.Fatalf("rematch tasks %+v, want one scoped to %+v", tasks, want)
	}

	gate.closed.Store(true)
	text, err := store.EncodeRematchTask(tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	if status := h.call(t, pipeline.FuncRematch, delivery(pipeline.FuncRematch, text, 1, host.HostEncoding)); status != okStatus {
		t.Fatalf("rematch: HTTP %d", status)
	}
	if n := gate.refused.Load(); n != 0 {
		t.Errorf("%d registry requests during the rematch, want 0", n)
	}
	wantRow := scanned
	wantRow.LastMatchedAt = later
	if diff := cmp.Diff(wantRow, h.images(t, "r/min")[base.ManifestDigest]); diff != "" {
		t.Errorf("row after the rematch (-want +got):\n%s", diff)
	}
	if tasks := h.rematchTasks(t); len(tasks) != 0 {
		t.Errorf("a scoped rematch enqueued %+v, want no next page", tasks)
	}
	run, err := h.store.GetRun(context.Background(), later.Format(time.DateOnly), "test-run")
	if err != nil {
		t.Fatal(err)
	}
	if run.RematchEnqueued != 1 || run.Rematched != 1 {
		t.Errorf("run counts %d rematch tasks and %d rows re-matched, want 1 and 1", run.RematchEnqueued, run.Rematched)
	}
}
