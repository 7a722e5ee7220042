package pipeline_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/pipeline"
)

// barrier holds the first n calls until all n have arrived; later calls pass.
func barrier(n int) func() {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	return func() {
		mu.Lock()
		arrived++
		mine := arrived
		if mine == n {
			close(all)
		}
		mu.Unlock()
		if mine <= n {
			<-all
		}
	}
}

// idxBlobs lists the .idx blobs of the advisories container, sorted.
func (h *harness) idxBlobs(t *testing.T) []string {
	t.Helper()
	var out []string
	pager := h.store.Advisories().Client().NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			if strings.HasSuffix(*b.Name, ".idx") {
				out = append(out, *b.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestTwoAdvisoriesTicksAtOnceLeaveOneGenerationAndTheLoserSaysSoInRuns runs two
// advisories invocations on two instances at once, each holding its first download
// until the other's has arrived, so both read the absent pointer before either
// writes one. (The feed package proves the same race for the sync alone, on a
// directory and on Azurite: TestTwoSyncsAtOnce….)
func TestTwoAdvisoriesTicksAtOnceLeaveOneGenerationAndTheLoserSaysSoInRuns(t *testing.T) {
	b := startBucket(t)
	hold := barrier(2)
	b.before.Store(&hold)
	one := newHarness(t, "registry.invalid", withAdvisories(b.URL))
	other := newHarness(t, "registry.invalid", sharingStorageWith(one), withAdvisories(b.URL))
	other.clock.Set(one.clock.Now().Add(time.Second)) // its own tick, so its own run
	instances := []*harness{one, other}

	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, h := range instances {
		env := host.TimerEnvelope(host.TimerBinding, host.TimerInfo{}, host.NewSys(pipeline.FuncAdvisories, time.Now().UTC()))
		wg.Go(func() {
			status, _, err := host.Call(context.Background(), h.base, pipeline.FuncAdvisories, env)
			if err != nil {
				t.Errorf("advisories on instance %d: %v", i, err)
			}
			statuses[i] = status
		})
	}
	wg.Wait()

	winner := slices.Index(statuses, okStatus)
	loser := 1 - winner
	if winner < 0 || statuses[loser] != http.StatusInternalServerError {
		t.Fatalf("statuses %v; want one 200 and one 500 (the loser is retried by the host)", statuses)
	}
	generation, checkedAt := one.pointerOf(t)
	won, lost := instances[winner].advisoriesRun(t), instances[loser].advisoriesRun(t)

	t.Run("the pointer is the winner's complete generation", func(t *testing.T) {
		if diff := cmp.Diff(used{generation, checkedAt}, used{won.Generation, won.AdvisoryCheckedAt}); diff != "" {
			t.Errorf("winner's runs row against current.json (-want +got):\n%s", diff)
		}
		if won.Failed != 0 || !strings.Contains(won.Folders, "Debian updated") || !strings.Contains(won.Folders, "GIT updated") {
			t.Errorf("winner's runs row = %+v, want both folders updated and no failure", won)
		}
	})
	t.Run("the loser's runs row counts one failure saying the pointer changed and names the winner's generation", func(t *testing.T) {
		if lost.Failed != 1 || !strings.Contains(lost.Failures, "changed concurrently") {
			t.Errorf("loser's runs row = %+v, want one failure saying the pointer changed concurrently", lost)
		}
		if lost.Generation != generation {
			t.Errorf("loser's runs row names generation %q, want the one serving, %q", lost.Generation, generation)
		}
	})
	t.Run("only the winner's blobs are left", func(t *testing.T) {
		want := []string{"Debian/" + generation + ".idx", "GIT/" + generation + ".idx"}
		if diff := cmp.Diff(want, one.idxBlobs(t)); diff != "" {
			t.Errorf(".idx blobs (-want +got):\n%s", diff)
		}
	})
}
