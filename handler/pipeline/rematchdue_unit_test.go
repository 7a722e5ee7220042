package pipeline

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/store"
)

// TestAStaleDigestIsReMatchedWhenItsInventoryIsCurrentAndScannedOtherwise lists a
// repository whose only tag points at a digest scanned two days ago, and checks which
// queue the listing sends it to and what the run counts.
func TestAStaleDigestIsReMatchedWhenItsInventoryIsCurrentAndScannedOtherwise(t *testing.T) {
	tests := []struct {
		name         string
		analyzer     string
		inventoryRef string
		wantQueue    string
		wantDelta    store.RunDelta
	}{
		{name: "an inventory stored by the current analyzer sends a rematch task scoped to the digest",
			analyzer: inventory.Analyzer, inventoryRef: "inventories/" + digestA + ".json.gz",
			wantQueue: "rematch-tasks", wantDelta: store.RunDelta{Manifests: 1, RematchEnqueued: 1}},
		{name: "an inventory stored by an older analyzer sends a scan task",
			analyzer: "tidewatch-layer/2 os/dpkg@0", inventoryRef: "inventories/" + digestA + ".json.gz",
			wantQueue: "scan-tasks", wantDelta: store.RunDelta{Manifests: 1, Enqueued: 1}},
		{name: "no stored inventory sends a scan task",
			wantQueue: "scan-tasks", wantDelta: store.RunDelta{Manifests: 1, Enqueued: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			scannedAt := testNow.Add(-48 * time.Hour)
			m.tags[key(testRegistry, testRepo, "1")] = store.Tag{Registry: testRegistry, Repository: testRepo, Name: "1",
				Digest: digestA, ChangedAt: testNow.AddDate(0, 0, -3)}
			m.images[key(testRegistry, testRepo, digestA)] = store.Image{Registry: testRegistry, Repository: testRepo, Digest: digestA,
				Tags: []string{"1"}, Status: "scanned", LastScannedAt: scannedAt, LastMatchedAt: scannedAt,
				InventoryRef: tt.inventoryRef, Analyzer: tt.analyzer}
			m.activity[key(testRegistry, testRepo, digestA)] = store.Activity{Registry: testRegistry, Repository: testRepo, Digest: digestA,
				LastPushedAt: testNow.AddDate(0, 0, -3), Source: "tags"}
			reg := fakeRegistry{repos: map[string]map[string]string{testRepo: {"1": digestA}}}
			if err := listOnce(t, m, reg, 1); err != nil {
				t.Fatalf("listing: %v", err)
			}
			got := map[string]int{}
			for q, msgs := range m.sent {
				got[q] = len(msgs)
			}
			if diff := cmp.Diff(map[string]int{tt.wantQueue: 1}, got); diff != "" {
				t.Errorf("messages sent per queue (-want +got):\n%s", diff)
			}
			if tt.wantQueue == "rematch-tasks" {
				var task store.RematchTask
				if err := json.Unmarshal([]byte(m.sent["rematch-tasks"][0].Text), &task); err != nil {
					t.Fatal(err)
				}
				want := &store.RematchScope{Registry: testRegistry, Repository: testRepo, Digest: digestA}
				if diff := cmp.Diff(want, task.Scope); diff != "" {
					t.Errorf("rematch scope (-want +got):\n%s", diff)
				}
			}
			counted := func() store.RunDelta {
				var d store.RunDelta
				for _, row := range m.runs {
					d = row
				}
				d.StartedAt, d.FinishedAt, d.Deliveries = time.Time{}, time.Time{}, 0
				return d
			}
			if diff := cmp.Diff(tt.wantDelta, counted()); diff != "" {
				t.Errorf("run counters (-want +got):\n%s", diff)
			}
			if err := listOnce(t, m, reg, 2); err != nil {
				t.Fatalf("second delivery: %v", err)
			}
			if n := len(m.sent[tt.wantQueue]); n != 1 {
				t.Errorf("%d messages in %s after a redelivery, want the claimed one only", n, tt.wantQueue)
			}
			if diff := cmp.Diff(tt.wantDelta, counted()); diff != "" {
				t.Errorf("run counters after a redelivery (-want +got):\n%s", diff)
			}
		})
	}
}
