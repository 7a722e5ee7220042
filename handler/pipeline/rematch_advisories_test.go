package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// rematchTasks decodes (and receives) every rematch task waiting in the queue.
func (h *harness) rematchTasks(t *testing.T) []store.RematchTask {
	t.Helper()
	var out []store.RematchTask
	for _, text := range drain(t, h.store.RematchTasks()) {
		var task store.RematchTask
		if err := json.Unmarshal(text, &task); err != nil {
			t.Fatalf("rematch task %s: %v", text, err)
		}
		out = append(out, task)
	}
	return out
}

// TestANewGenerationEnqueuesARematchThatUsesItAtOnce syncs from an advisory URL
// twice, the second export without one CVE the image has: the second sync enqueues
// the first rematch page of the new generation, which re-matches with it at once
// (not five minutes later, when the pointer would be read again anyway).
func TestANewGenerationEnqueuesARematchThatUsesItAtOnce(t *testing.T) {
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
	first := h.generation(t)
	t.Run("the first generation enqueues the first rematch page", func(t *testing.T) {
		want := []store.RematchTask{{V: 1, Generation: first, RunID: "advisories-" + start.UTC().Format("20060102T150405Z")}}
		if diff := cmp.Diff(want, h.rematchTasks(t)); diff != "" {
			t.Errorf("rematch tasks (-want +got):\n%s", diff)
		}
		if run := h.advisoriesRun(t); run.RematchEnqueued != 1 {
			t.Errorf("the advisories run counts %d rematch tasks, want 1", run.RematchEnqueued)
		}
	})
	if status := h.scan(t, "demo/base", base.ManifestDigest, "1"); status != okStatus {
		t.Fatalf("scan: HTTP %d", status)
	}
	scanned := h.images(t, "demo/base")[base.ManifestDigest]

	b.serve(advisoriesWithout(t, gone[0]))
	h.clock.Set(start.Add(time.Minute))
	if status := h.syncAdvisories(t); status != okStatus {
		t.Fatalf("second sync: HTTP %d", status)
	}
	second := h.generation(t)
	tasks := h.rematchTasks(t)
	if len(tasks) != 1 || tasks[0].Generation != second || tasks[0].Partition != "" {
		t.Fatalf("rematch tasks after the second sync: %+v, want the first page of %s", tasks, second)
	}
	text, err := store.EncodeRematchTask(tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Set(start.Add(2 * time.Minute))
	if status := h.call(t, pipeline.FuncRematch, delivery(pipeline.FuncRematch, text, 1, host.HostEncoding)); status != okStatus {
		t.Fatalf("rematch: HTTP %d", status)
	}
	rematched := h.images(t, "demo/base")[base.ManifestDigest]

	t.Run("the rematch uses the new generation two minutes after the pointer was read", func(t *testing.T) {
		if rematched.Generation == scanned.Generation {
			t.Fatalf("the row still has generation %s", rematched.Generation)
		}
		wantNow := allIn(want, active)
		wantNow[gone] = rowState{State: "resolved", Reason: "advisory"}
		if diff := cmp.Diff(wantNow, h.states(t, "demo/base", base.ManifestDigest)); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
		for _, f := range h.findings(t, base.ManifestDigest) {
			if f.VulnerabilityID == gone[0] && f.ResolvedByGeneration != rematched.Generation {
				t.Errorf("%s resolved by generation %q, want the row's %q", gone[0], f.ResolvedByGeneration, rematched.Generation)
			}
		}
	})
	t.Run("a page of the superseded generation's chain changes nothing and ends its chain", func(t *testing.T) {
		old, err := store.EncodeRematchTask(store.RematchTask{Generation: first, RunID: "old-chain"})
		if err != nil {
			t.Fatal(err)
		}
		before := h.snapshot(t, "demo/base")
		h.clock.Set(start.Add(3 * time.Minute))
		if status := h.call(t, pipeline.FuncRematch, delivery(pipeline.FuncRematch, old, 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("old rematch: HTTP %d", status)
		}
		if diff := cmp.Diff(before, h.snapshot(t, "demo/base")); diff != "" {
			t.Errorf("rows after a superseded page (-before +after):\n%s", diff)
		}
		if tasks := h.rematchTasks(t); len(tasks) != 0 {
			t.Errorf("the superseded page enqueued %+v", tasks)
		}
	})
	t.Run("an unchanged sync enqueues no rematch", func(t *testing.T) {
		h.clock.Set(start.Add(4 * time.Minute))
		if status := h.syncAdvisories(t); status != okStatus {
			t.Fatalf("third sync: HTTP %d", status)
		}
		if tasks := h.rematchTasks(t); len(tasks) != 0 {
			t.Errorf("an unchanged sync enqueued %+v", tasks)
		}
	})
}
