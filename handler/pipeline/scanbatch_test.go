package pipeline_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// batchRepo is the repository the batch tests push their three images to.
const batchRepo = "demo/batch"

// batchFixture is three images of one repository (two Debian images and an Alpine
// one, no platform shared), pushed to a real registry behind a fault proxy.
type batchFixture struct {
	proxy   *faultProxy
	digests []string // sorted, as listrepo sends them
	tags    map[string]string
}

func newBatchFixture(t *testing.T) batchFixture {
	t.Helper()
	reg := testenv.StartRegistry(t)
	f := batchFixture{tags: map[string]string{}}
	for tag, image := range map[string]string{"1": minbase, "2": layered, "3": "alpine-3.4"} {
		push(t, image, reg.Ref(batchRepo+":"+tag))
		truth := loadSidecar(t, image)
		digest := truth.ManifestDigest
		if truth.IndexDigest != "" {
			digest = truth.IndexDigest
		}
		f.tags[digest] = tag
		f.digests = append(f.digests, digest)
	}
	slices.Sort(f.digests)
	f.proxy = startFaultProxy(t, reg.Host)
	return f
}

// harness is a pipeline over fresh storage whose tag view holds the fixture's tags
// (what a listing would have written), so scans reconcile against a real view.
func (f batchFixture) harness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := newHarness(t, f.proxy.Host, opts...)
	var tags []store.Tag
	for digest, tag := range f.tags {
		tags = append(tags, store.Tag{Registry: h.registry, Repository: batchRepo, Name: tag, Digest: digest, ChangedAt: h.clock.Now()})
	}
	if err := h.store.PutTags(context.Background(), h.registry, batchRepo, tags); err != nil {
		t.Fatal(err)
	}
	return h
}

// batch is the scan task carrying digests, each with its fixture tag.
func (f batchFixture) batch(t *testing.T, h *harness, digests ...string) []byte {
	t.Helper()
	task := store.ScanTask{Registry: h.registry, Repository: batchRepo, RunID: "test-run"}
	for _, d := range digests {
		task.Digests = append(task.Digests, store.ScanDigest{Digest: d, Tags: []string{f.tags[d]}, Reason: store.ReasonPush})
	}
	b, err := store.EncodeScanTask(task)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scanned is what scanning leaves in the tables: images rows and their findings.
type scanned struct {
	Images   map[string]store.Image
	Findings map[string]map[string]store.Finding
}

func (h *harness) scanned(t *testing.T) scanned {
	t.Helper()
	s := scanned{Images: h.images(t, batchRepo), Findings: map[string]map[string]store.Finding{}}
	for digest := range s.Images {
		s.Findings[digest] = h.findings(t, digest)
	}
	return s
}

// of is the part of s that belongs to digest (its own row or its platforms').
func (s scanned) of(digest string) scanned {
	out := scanned{Images: map[string]store.Image{}, Findings: map[string]map[string]store.Finding{}}
	for d, img := range s.Images {
		if d == digest || img.IndexDigest == digest {
			out.Images[d], out.Findings[d] = img, s.Findings[d]
		}
	}
	return out
}

// drive delivers every scan task queued (and those they queue) once each, deleting
// them, until the queue is empty.
func (h *harness) drive(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	q := h.store.ScanTasks()
	for round := 0; ; round++ {
		if round == 10 {
			t.Fatal("scan-tasks still not empty after 10 rounds")
		}
		msgs, err := q.Receive(ctx, 32, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, m.Text, 1, host.HostEncoding)); status != okStatus {
				t.Fatalf("queued scan task %s: HTTP %d, want %d", m.Text, status, okStatus)
			}
			if err := q.Delete(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (h *harness) run(t *testing.T) store.Run {
	t.Helper()
	run, err := h.store.GetRun(context.Background(), runDate(h.clock.Now()), "test-run")
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// TestListRepoSendsOneScanTaskPerListing lists a repository with three new digests:
// one scan task carries all three, each with its tags and reason.
func TestListRepoSendsOneScanTaskPerListing(t *testing.T) {
	f := newBatchFixture(t)
	h := newHarness(t, f.proxy.Host)
	if status := h.call(t, pipeline.FuncListRepo, delivery(pipeline.FuncListRepo, h.listTask(t, batchRepo), 1, host.HostEncoding)); status != okStatus {
		t.Fatalf("listrepo: HTTP %d, want %d", status, okStatus)
	}
	msgs := h.scanMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("listing sent %d scan tasks, want 1: %+v", len(msgs), msgs)
	}
	var want []store.ScanDigest
	for _, d := range f.digests {
		want = append(want, store.ScanDigest{Digest: d, Tags: []string{f.tags[d]}, Reason: store.ReasonPush})
	}
	if diff := cmp.Diff(want, msgs[0].Digests); diff != "" {
		t.Errorf("digests of the scan task (-want +got):\n%s", diff)
	}
	if msgs[0].Digest != "" || msgs[0].Repository != batchRepo {
		t.Errorf("batch task names digest %q repository %q, want no digest and %q", msgs[0].Digest, msgs[0].Repository, batchRepo)
	}
	if run := h.run(t); run.Enqueued != 3 {
		t.Errorf("run counts %d enqueued scans, want 3 (digests, not tasks)", run.Enqueued)
	}
}

// TestScanBatch scans batch tasks of the fixture's three digests and compares the
// rows with what three single-digest tasks write.
func TestScanBatch(t *testing.T) {
	f := newBatchFixture(t)
	a, b, c := f.digests[0], f.digests[1], f.digests[2]
	ref := f.harness(t)
	for _, d := range f.digests {
		if status := ref.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, ref.scanTask(t, batchRepo, d, f.tags[d]), 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("single task of %s: HTTP %d", d, status)
		}
	}
	want := ref.scanned(t)
	for _, d := range f.digests {
		if len(want.of(d).Images) == 0 {
			t.Fatalf("the single task of %s wrote no images row", d)
		}
	}
	same := func(t *testing.T, what string, want, got scanned) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-single tasks +batch):\n%s", what, diff)
		}
	}
	scanQueue := func(h *harness) func(*http.Request) bool {
		name := h.store.ScanTasks().Name()
		return func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/"+name+"/messages")
		}
	}

	t.Run("a batch of three writes the rows three single tasks write", func(t *testing.T) {
		h := f.harness(t)
		if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, f.batch(t, h, a, b, c), 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		same(t, "rows after the batch", want, h.scanned(t))
		if tasks := h.scanMessages(t); len(tasks) != 0 {
			t.Errorf("a batch that succeeded sent %d scan tasks: %+v", len(tasks), tasks)
		}
		if run := h.run(t); run.Scanned != 3 || run.Failed != 0 || run.Failures != "" {
			t.Errorf("run counts Scanned %d Failed %d Failures %q, want 3, 0, none", run.Scanned, run.Failed, run.Failures)
		}
	})

	t.Run("a digest meeting HTTP 500 is split off as its own task and the others are done", func(t *testing.T) {
		h := f.harness(t)
		f.proxy.inject(t, fault{match: "/manifests/" + b, status: http.StatusInternalServerError})
		if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, f.batch(t, h, a, b, c), 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		got := h.scanned(t)
		same(t, "rows of the first digest", want.of(a), got.of(a))
		same(t, "rows of the third digest", want.of(c), got.of(c))
		if rows := got.of(b).Images; len(rows) != 0 {
			t.Errorf("the split-off digest has rows before its own task ran: %+v", rows)
		}
		tasks := h.scanMessages(t)
		if len(tasks) != 1 || tasks[0].Digest != b || len(tasks[0].Digests) != 0 || !cmp.Equal(tasks[0].Tags, []string{f.tags[b]}) {
			t.Fatalf("queued %+v, want one single-digest task of %s", tasks, b)
		}
		if run := h.run(t); run.Scanned != 2 || run.Retried != 1 || !strings.Contains(run.Failures, b) {
			t.Errorf("run counts Scanned %d Retried %d Failures %q, want 2, 1 and a line naming %s", run.Scanned, run.Retried, run.Failures, b)
		}
		f.proxy.set(fault{})
		text, err := store.EncodeScanTask(tasks[0])
		if err != nil {
			t.Fatal(err)
		}
		if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, text, 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("split-off task: HTTP %d, want %d", status, okStatus)
		}
		same(t, "rows after the split-off task ran", want, h.scanned(t))
	})

	t.Run("a digest failing permanently is recorded failed and the others are done", func(t *testing.T) {
		h := f.harness(t)
		missing := "sha256:" + strings.Repeat("0", 64)
		f.tags[missing] = "gone"
		defer delete(f.tags, missing)
		if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, f.batch(t, h, a, missing, c), 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		got := h.scanned(t)
		same(t, "rows of the first digest", want.of(a), got.of(a))
		same(t, "rows of the third digest", want.of(c), got.of(c))
		img, ok := got.Images[missing]
		if !ok || img.Status != scanner.StatusFailed || !strings.Contains(img.Error, missing) || !cmp.Equal(img.Tags, []string{"gone"}) {
			t.Errorf("images row of the missing digest = %+v, want Status failed, tagged gone, an Error naming it", img)
		}
		if tasks := h.scanMessages(t); len(tasks) != 0 {
			t.Errorf("a permanent failure was sent again: %+v", tasks)
		}
		if run := h.run(t); run.Scanned != 2 || run.Failed != 1 || !strings.Contains(run.Failures, missing) {
			t.Errorf("run counts Scanned %d Failed %d Failures %q, want 2, 1 and a line naming %s", run.Scanned, run.Failed, run.Failures, missing)
		}
	})

	t.Run("a budget short after the first digest sends the rest as one task", func(t *testing.T) {
		// A reserve longer than any budget: the rule fires before every second digest.
		h := f.harness(t, withPipelineOptions(pipeline.WithScanReserve(24*time.Hour)))
		if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, f.batch(t, h, a, b, c), 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("HTTP %d, want %d", status, okStatus)
		}
		got := h.scanned(t)
		same(t, "rows of the first digest", want.of(a), got)
		tasks := h.scanMessages(t)
		if len(tasks) != 1 {
			t.Fatalf("queued %d tasks, want 1 with the two digests not started: %+v", len(tasks), tasks)
		}
		wantRest := []store.ScanDigest{{Digest: b, Tags: []string{f.tags[b]}, Reason: store.ReasonPush}, {Digest: c, Tags: []string{f.tags[c]}, Reason: store.ReasonPush}}
		if diff := cmp.Diff(wantRest, tasks[0].Digests); diff != "" {
			t.Fatalf("remainder task's digests (-want +got):\n%s", diff)
		}
		if run := h.run(t); run.Scanned != 1 {
			t.Errorf("run counts Scanned %d, want 1", run.Scanned)
		}
		text, err := store.EncodeScanTask(tasks[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.ScanTasks().Send(context.Background(), text); err != nil {
			t.Fatal(err)
		}
		h.drive(t)
		same(t, "rows once the remainder ran", want, h.scanned(t))
	})

	for _, tc := range []struct {
		name   string
		opts   []harnessOption
		fault  fault
		counts int // delivery count of the failing delivery
	}{
		{name: "a crash sending the remainder fails the batch, and its redelivery gives the same rows",
			opts: []harnessOption{withPipelineOptions(pipeline.WithScanReserve(24 * time.Hour))}, counts: 1},
		{name: "a crash sending a split-off fails the batch, and its redelivery gives the same rows",
			fault: fault{match: "/manifests/" + b, status: http.StatusInternalServerError}, counts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faults := testenv.NewStorageFaults()
			h := f.harness(t, append(tc.opts, withStoreOptions(store.WithPerCallPolicy(faults)))...)
			f.proxy.inject(t, tc.fault)
			faults.FailMatching(scanQueue(h))
			text := f.batch(t, h, a, b, c)
			if status := h.call(t, pipeline.FuncScan, deliveryOf("batch-1", pipeline.FuncScan, text, tc.counts, host.HostEncoding)); status != http.StatusInternalServerError {
				t.Fatalf("delivery with the send failing: HTTP %d, want %d", status, http.StatusInternalServerError)
			}
			if len(faults.Failed()) == 0 {
				t.Fatal("no scan-tasks send was attempted")
			}
			faults.Clear()
			f.proxy.set(fault{})
			if status := h.call(t, pipeline.FuncScan, deliveryOf("batch-1", pipeline.FuncScan, text, tc.counts+1, host.HostEncoding)); status != okStatus {
				t.Fatalf("redelivery: HTTP %d, want %d", status, okStatus)
			}
			h.drive(t)
			same(t, "rows after the redelivery and what it sent", want, h.scanned(t))
		})
	}

	t.Run("on the last delivery, the digests a failed send could not hand on are recorded failed", func(t *testing.T) {
		faults := testenv.NewStorageFaults()
		h := f.harness(t, withPipelineOptions(pipeline.WithScanReserve(24*time.Hour)), withStoreOptions(store.WithPerCallPolicy(faults)))
		faults.FailMatching(scanQueue(h))
		if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan, f.batch(t, h, a, b, c), host.MaxDequeueCount, host.HostEncoding)); status != http.StatusInternalServerError {
			t.Fatalf("HTTP %d, want %d", status, http.StatusInternalServerError)
		}
		got := h.scanned(t)
		same(t, "rows of the first digest", want.of(a), got.of(a))
		for _, d := range []string{b, c} {
			if img, ok := got.Images[d]; !ok || img.Status != scanner.StatusFailed || !strings.Contains(img.Error, "giving up") {
				t.Errorf("images row of %s = %+v, want Status failed with an Error saying it gave up", d, img)
			}
		}
	})
}
