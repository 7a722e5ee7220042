package pipeline_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// outcome is what an invocation leaves behind in storage, for one repository.
type outcome struct {
	Images   map[string]store.Image
	Findings map[string]map[string]store.Finding
	Tags     []store.Tag
	Activity []store.Activity
	// Queued is the set of scan tasks waiting; a send repeated after a failed claim
	// may queue a task twice, which the idempotent scan absorbs.
	Queued []queued
	Run    store.Run
}

// outcomeOf reads what the harness's tables and scan queue hold for repository.
func (h *harness) outcomeOf(t *testing.T, repository string) outcome {
	t.Helper()
	ctx := context.Background()
	o := outcome{Images: h.images(t, repository), Findings: map[string]map[string]store.Finding{}}
	for digest := range o.Images {
		o.Findings[digest] = h.findings(t, digest)
	}
	var err error
	if o.Tags, err = h.store.ListTags(ctx, h.registry, repository); err != nil {
		t.Fatal(err)
	}
	if o.Activity, err = h.store.ListActivity(ctx, h.registry, repository); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, q := range queuedOf(h.scanTasks(t)) {
		if key := q.Digest + "\x00" + cmp.Diff(nil, q.Tags); !seen[key] {
			seen[key] = true
			o.Queued = append(o.Queued, q)
		}
	}
	runID := h.runID
	if runID == "" {
		runID = "test-run"
	}
	if o.Run, err = h.store.GetRun(ctx, runDate(h.clock.Now()), runID); err != nil {
		t.Fatalf("reading the run: %v", err)
	}
	// Redeliveries are counted, by design; everything else must match.
	o.Run.Deliveries = 0
	return o
}

// faultEveryCall runs invoke once without faults to count its storage calls, then,
// for each call in turn, on a fresh setup: fails that call with a 503, redelivers
// the same message until the invocation completes, and compares what storage holds
// with the failure-free run. setup prepares a fresh harness and returns the message.
func faultEveryCall(t *testing.T, registryHost, function, repository string, setup func(t *testing.T, h *harness) []byte, opts ...harnessOption) {
	t.Helper()
	fresh := func(t *testing.T) (*harness, *testenv.StorageFaults, []byte) {
		faults := testenv.NewStorageFaults()
		h := newHarness(t, registryHost, append([]harnessOption{withStoreOptions(store.WithPerCallPolicy(faults))}, opts...)...)
		return h, faults, setup(t, h)
	}
	var want outcome
	var calls int
	t.Run("without faults", func(t *testing.T) {
		h, faults, text := fresh(t)
		faults.Clear()
		if status := h.call(t, function, delivery(function, text, 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		calls = faults.Calls()
		want = h.outcomeOf(t, repository)
	})
	if calls == 0 {
		t.Fatal("the failure-free invocation made no storage calls")
	}
	t.Logf("%s makes %d storage calls", function, calls)
	for n := 1; n <= calls; n++ {
		t.Run(fmt.Sprintf("a 503 on storage call %d of %d is healed by redelivery", n, calls), func(t *testing.T) {
			h, faults, text := fresh(t)
			id := rand.Text()
			faults.FailNth(n)
			status := h.call(t, function, deliveryOf(id, function, text, 1, host.HostEncoding))
			failed := faults.Failed()
			faults.Clear()
			for count := 2; status != okStatus && count <= host.MaxDequeueCount; count++ {
				status = h.call(t, function, deliveryOf(id, function, text, count, host.HostEncoding))
			}
			if status != okStatus {
				t.Fatalf("still HTTP %d after %d deliveries (fault on %v)", status, host.MaxDequeueCount, failed)
			}
			if diff := cmp.Diff(want, h.outcomeOf(t, repository), cmpopts.IgnoreFields(store.Tag{}, "ETag"), cmpopts.IgnoreFields(store.Activity{}, "ScanClaimedBy"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("after a fault on %v, storage differs from the failure-free run (-want +got):\n%s", failed, diff)
			}
		})
	}
}

// TestListRepoIsIdempotentUnderStorageFaults lists a repository where tag 1 moved
// and tag 2 is new since the last listing, with a storage failure injected at each of
// the listing's storage calls in turn.
func TestListRepoIsIdempotentUnderStorageFaults(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, layered, reg.Ref("demo/app:1"))
	push(t, minbase, reg.Ref("demo/app:2"))
	faultEveryCall(t, reg.Host, pipeline.FuncListRepo, "demo/app", func(t *testing.T, h *harness) []byte {
		// What an earlier listing saw: tag 1 at minbase, pushed a week ago.
		ctx := context.Background()
		earlier := h.clock.Now().Add(-7 * 24 * time.Hour)
		if err := h.store.PutTags(ctx, reg.Host, "demo/app", []store.Tag{{Registry: reg.Host, Repository: "demo/app", Name: "1", Digest: base.ManifestDigest, ChangedAt: earlier}}); err != nil {
			t.Fatal(err)
		}
		if err := h.store.RecordActivity(ctx, store.Activity{Registry: reg.Host, Repository: "demo/app", Digest: base.ManifestDigest, LastPushedAt: earlier, Source: "tags"}, 0); err != nil {
			t.Fatal(err)
		}
		return h.listTask(t, "demo/app")
	})
}

// TestScanIsIdempotentUnderStorageFaults scans an image whose tag moved to it from an
// earlier scanned image, with a storage failure injected at each of the scan's
// table, blob and queue calls in turn.
func TestScanIsIdempotentUnderStorageFaults(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base, app := loadSidecar(t, minbase), loadSidecar(t, layered)
	push(t, minbase, reg.Ref("demo/app:old"))
	push(t, layered, reg.Ref("demo/app:1"))
	faultEveryCall(t, reg.Host, pipeline.FuncScan, "demo/app", func(t *testing.T, h *harness) []byte {
		// Tag 1 was at minbase, scanned an hour ago; listing saw it move to layered.
		ctx := context.Background()
		now := h.clock.Now()
		h.clock.Set(now.Add(-time.Hour))
		if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, h.scanTask(t, "demo/app", base.ManifestDigest, "1"), 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("scanning the old image: HTTP %d", status)
		}
		h.clock.Set(now)
		if err := h.store.PutTags(ctx, reg.Host, "demo/app", []store.Tag{{Registry: reg.Host, Repository: "demo/app", Name: "1",
			Digest: app.ManifestDigest, History: []store.TagMove{{Digest: base.ManifestDigest, Until: now}}, ChangedAt: now}}); err != nil {
			t.Fatal(err)
		}
		if err := h.store.RecordActivity(ctx, store.Activity{Registry: reg.Host, Repository: "demo/app", Digest: app.ManifestDigest, LastPushedAt: now, Source: "tags"}, 0); err != nil {
			t.Fatal(err)
		}
		return h.scanTask(t, "demo/app", app.ManifestDigest, "1")
	})
}
