package cli

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestRunStopBeforeScanLeavesTheScanTasksQueued(t *testing.T) {
	reg := testenv.StartRegistry(t)
	app, multi := testenv.ReadSidecar(t, "debian12-layered"), testenv.ReadSidecar(t, "debian12-multiarch")
	base := testenv.ReadSidecar(t, "debian12-minbase")
	reg.Push(t, "debian12-layered", "demo/app:1")
	reg.Push(t, "debian12-minbase", "demo/app:2")
	reg.Push(t, "debian12-multiarch", "demo/multi:1")
	now := startOfTest(t)
	h := startRunTestHost(t, reg.Host, func() time.Time { return now })

	h.stopBefore, h.parallel, h.keepSpans = "scan", 4, true // keepSpans: as --count-storage
	stats := h.run(t)
	// The sweep and one list task per repository ran; no scan did.
	if stats.invocations != 3 || stats.completed != 3 {
		t.Errorf("run stats %+v, want 3 invocations completed (sweep, 2 list tasks)", stats)
	}
	want := map[string]int{
		h.store.ListTasks().Name(): 0, h.store.ListTasks().Poison().Name(): 0,
		// One scan task per repository listing: demo/app's two digests in one batch,
		// the index alone.
		h.store.ScanTasks().Name(): 2, h.store.ScanTasks().Poison().Name(): 0,
	}
	if diff := cmp.Diff(want, h.queueLengths(t)); diff != "" {
		t.Errorf("queue lengths after stopping before scan (-want +got):\n%s", diff)
	}
	// The two tasks carry three digests, each counted enqueued once.
	run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), now.Format("20060102T150405Z"))
	if err != nil {
		t.Fatalf("reading the runs row: %v", err)
	}
	if run.Enqueued != 3 {
		t.Errorf("run counts %d enqueued scans, want 3 (digests, not tasks)", run.Enqueued)
	}
	if imgs := append(h.images(t, "demo/app"), h.images(t, "demo/multi")...); len(imgs) != 0 {
		t.Errorf("%d images rows after stopping before scan, want none", len(imgs))
	}
	// Each invocation is recorded under its function, for --count-storage's billing lines.
	if diff := cmp.Diff(map[string]int{"listrepo": 2, "sweep": 1}, invocationsByFunction(h.invocationSpans())); diff != "" {
		t.Errorf("invocations recorded per function (-want +got):\n%s", diff)
	}

	// The queued tasks are real work: a run without the stop scans every platform.
	h.stopBefore = ""
	h.run(t)
	got := len(h.images(t, "demo/app")) + len(h.images(t, "demo/multi"))
	if wantRows := len(app.Manifests) + len(base.Manifests) + len(multi.Manifests); got != wantRows {
		t.Errorf("%d images rows after the queued scans ran, want %d (one per platform)", got, wantRows)
	}
	if n := invocationsByFunction(h.invocationSpans())["scan"]; n != 2 {
		t.Errorf("%d scan invocations recorded, want 2 (one per scan task)", n)
	}
}

// invocationsByFunction counts spans per function.
func invocationsByFunction(spans []invocationSpan) map[string]int {
	n := map[string]int{}
	for _, s := range spans {
		if !s.end.After(s.start) {
			n["(empty span) "+s.function]++
			continue
		}
		n[s.function]++
	}
	return n
}
