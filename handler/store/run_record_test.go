package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// sameStore opens another Store on s's resources, as another process would: nothing
// in memory is shared with s.
func sameStore(t testing.TB, s *Store, cs string, opts ...Option) *Store {
	t.Helper()
	other, err := Open(context.Background(), Config{ConnectionString: cs}, append([]Option{WithNameSuffix(s.suffix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return other
}

func TestAzuriteAppliesAnEntityGroupTransactionWholeOrNotAtAll(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	exists := func(rk string) bool {
		_, err := getRow(ctx, s.runs, "p", rk)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	put := func(rk string, n int) string {
		e := newEntity("p", rk)
		e.setInt32("N", n)
		if err := upsert(ctx, s.runs, e, aztables.UpdateModeReplace); err != nil {
			t.Fatal(err)
		}
		r, err := getRow(ctx, s.runs, "p", rk)
		if err != nil {
			t.Fatal(err)
		}
		return r.etag
	}
	summaryN := func() int {
		r, err := getRow(ctx, s.runs, "p", "summary")
		if err != nil {
			t.Fatal(err)
		}
		return r.int("N")
	}
	entityN := func(rk string, n int) entity {
		e := newEntity("p", rk)
		e.setInt32("N", n)
		return e
	}
	stale := put("summary", 1)
	current := put("summary", 2)
	put("existing", 0)

	t.Run("a stale If-Match on the summary refuses the insert beside it", func(t *testing.T) {
		err := submitActions(ctx, s.runs, []tableAction{
			{entity: entityN("new", 1), action: aztables.TransactionTypeAdd},
			{entity: entityN("summary", 3), action: aztables.TransactionTypeUpdateReplace, etag: stale},
		})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("transaction with a stale ETag: %v, want ErrConflict", err)
		}
		if exists("new") || summaryN() != 2 {
			t.Errorf("a refused transaction wrote something: row written %v, summary %d (want 2)", exists("new"), summaryN())
		}
	})
	t.Run("an insert of an existing row refuses the summary replace beside it", func(t *testing.T) {
		err := submitActions(ctx, s.runs, []tableAction{
			{entity: entityN("existing", 1), action: aztables.TransactionTypeAdd},
			{entity: entityN("summary", 3), action: aztables.TransactionTypeUpdateReplace, etag: current},
		})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("transaction inserting an existing row: %v, want ErrConflict", err)
		}
		if summaryN() != 2 {
			t.Errorf("summary = %d after a refused transaction, want 2", summaryN())
		}
	})
	t.Run("a current If-Match applies both", func(t *testing.T) {
		err := submitActions(ctx, s.runs, []tableAction{
			{entity: entityN("new", 1), action: aztables.TransactionTypeAdd},
			{entity: entityN("summary", 3), action: aztables.TransactionTypeUpdateReplace, etag: current},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !exists("new") || summaryN() != 3 {
			t.Errorf("after the transaction: row written %v, summary %d, want true and 3", exists("new"), summaryN())
		}
	})
}

// crashAt fails the n-th request it sees: before sending it (the process died before
// the call) or after the service answered (it died before reading the answer).
type crashAt struct {
	n     int32
	after bool
	calls atomic.Int32
}

func (c *crashAt) Do(req *policy.Request) (*http.Response, error) {
	if c.calls.Add(1) != c.n {
		return req.Next()
	}
	if c.after {
		resp, err := req.Next()
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return nil, fmt.Errorf("injected crash at request %d (after the answer: %v)", c.n, c.after)
}

func TestARedeliveryAfterACrashBetweenAnyTwoStepsCountsOnce(t *testing.T) {
	cs := testenv.Storage(t)
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Date(2025, 7, 3, 6, 0, 0, 0, time.UTC)
	// Invocation "b" fails transiently twice, then succeeds; invocation "a" beside it
	// succeeded at once. One delivery of b crashes at one request of its record.
	deliveries := []RunDelta{
		{Retried: 1, Failure: "registry: 503", Deliveries: 1, StartedAt: start.Add(time.Minute), FinishedAt: start.Add(2 * time.Minute)},
		{Retried: 1, Failure: "registry: 502", Deliveries: 2, StartedAt: start.Add(3 * time.Minute), FinishedAt: start.Add(4 * time.Minute)},
		{Scanned: 1, Manifests: 1, Deliveries: 3, StartedAt: start.Add(5 * time.Minute), FinishedAt: start.Add(6 * time.Minute)},
	}
	want := func(runID string) Run {
		return Run{Date: "2025-07-03", ID: runID, Scanned: 2, Manifests: 3, Invocations: 2, Deliveries: 4,
			StartedAt: start, FinishedAt: start.Add(6 * time.Minute), DurationMs: (6 * time.Minute).Milliseconds()}
	}
	for crashed := range 2 {
		for _, after := range []bool{false, true} {
			// n runs over every request the crashed delivery's record makes, and one more.
			for n := int32(1); ; n++ {
				runID := fmt.Sprintf("run-d%d-n%d-after-%v", crashed+1, n, after)
				name := fmt.Sprintf("delivery %d crashing at request %d %s it is answered", crashed+1, n, map[bool]string{false: "before", true: "after"}[after])
				if err := s.RecordInvocation(ctx, "2025-07-03", runID, "a", RunDelta{Scanned: 1, Manifests: 2, Deliveries: 1, StartedAt: start, FinishedAt: start.Add(time.Second)}); err != nil {
					t.Fatal(err)
				}
				crash := &crashAt{n: n, after: after}
				var crashErr error
				for i, d := range deliveries {
					// Each delivery runs in a process of its own.
					var opts []Option
					if i == crashed {
						opts = append(opts, WithPerCallPolicy(crash))
					}
					err := sameStore(t, s, cs, opts...).RecordInvocation(ctx, "2025-07-03", runID, "b", d)
					if i == crashed {
						crashErr = err
					} else if err != nil {
						t.Fatalf("%s: delivery %d: %v", name, i+1, err)
					}
				}
				got, err := s.GetRun(ctx, "2025-07-03", runID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want(runID), got); diff != "" {
					t.Errorf("%s (its record returned %v): summary (-want +got):\n%s", name, crashErr, diff)
				}
				if crash.calls.Load() < n {
					break // the record made fewer than n requests: every step was crashed
				}
				if crashErr == nil {
					t.Errorf("%s: the record reported success", name)
				}
			}
		}
	}
}

func TestConcurrentInvocationsInSeveralProcessesSumExactly(t *testing.T) {
	cs := testenv.Storage(t)
	base := newTestStore(t)
	ctx := context.Background()
	const processes, invocations = 4, 32
	counters := make([]*TransactionCounter, processes)
	stores := make([]*Store, processes)
	for i := range stores {
		counters[i] = NewTransactionCounter()
		stores[i] = sameStore(t, base, cs, WithTransactionCounter(counters[i]))
	}
	start := time.Date(2025, 7, 4, 6, 0, 0, 0, time.UTC)
	checkedA, checkedB := start.Add(-time.Hour), start.Add(-5*time.Minute)
	var wg sync.WaitGroup
	for i := range invocations {
		wg.Go(func() {
			gen, checked := "gen-a", checkedA
			if i >= 16 {
				gen, checked = "gen-b", checkedB
			}
			started := start.Add(time.Duration(i) * time.Second)
			// A first delivery that fails, then its redelivery in another process.
			first := RunDelta{Retried: 1, Failure: fmt.Sprintf("invocation %d: 503", i), Deliveries: 1,
				Generation: gen, AdvisoryCheckedAt: checked, StartedAt: started, FinishedAt: started.Add(time.Second)}
			second := RunDelta{Scanned: 1, Manifests: i, Deliveries: 2, Generation: gen, AdvisoryCheckedAt: checked,
				StartedAt: started.Add(time.Minute), FinishedAt: started.Add(time.Minute + 10*time.Second)}
			if i%8 == 0 {
				second.Scanned, second.Failed, second.Failure = 0, 1, fmt.Sprintf("invocation %d: malformed", i)
			}
			for k, d := range []RunDelta{first, second} {
				if err := stores[(i+k)%processes].RecordInvocation(ctx, "2025-07-04", "run", fmt.Sprintf("m%02d", i), d); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err := base.GetRun(ctx, "2025-07-04", "run")
	if err != nil {
		t.Fatal(err)
	}
	failures := strings.Split(got.Failures, "\n")
	got.Failures = ""
	want := Run{Date: "2025-07-04", ID: "run", Scanned: 28, Failed: 4, Manifests: 31 * 32 / 2, Invocations: 32, Deliveries: 64,
		Generation: "gen-a, gen-b", AdvisoryCheckedAt: checkedA, AdvisoryAgeMinutes: 60, // gen-a's invocation 0 started at start
		StartedAt: start, FinishedAt: start.Add(31*time.Second + time.Minute + 10*time.Second)}
	want.DurationMs = want.FinishedAt.Sub(start).Milliseconds()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	wantFailures := []string{"invocation 0: malformed", "invocation 8: malformed", "invocation 16: malformed", "invocation 24: malformed"}
	if diff := cmp.Diff(wantFailures, failures, cmpSorted); diff != "" {
		t.Errorf("failure lines (-want +got):\n%s", diff)
	}
	var total int64
	for _, c := range counters {
		total += c.ByService()[ServiceTable]
	}
	t.Logf("%d records of one run from %d processes: %d table transactions (%.2f per record)",
		2*invocations, processes, total, float64(total)/(2*invocations))
}

var cmpSorted = cmp.Transformer("sorted", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestStorageFaultsNeverDoubleCountAnInvocation(t *testing.T) {
	cs := testenv.Storage(t)
	base := newTestStore(t)
	// A fifth of the requests fault: answered 500 without reaching Azurite, or reset
	// after Azurite applied them (the SDK retries both; some faults outlast its retries).
	faulty := testenv.FaultyStorage(t, cs, "-p429", "0", "-p500", "0.1", "-preset", "0.1", "-ptruncate", "0", "-pslow", "0")
	ctx := context.Background()
	const invocations, minDeliveries, maxDeliveries = 16, 3, 40
	stores := []*Store{sameStore(t, base, faulty), sameStore(t, base, faulty), sameStore(t, base, faulty)}
	// Each invocation's delivery k does what k's parity says, on instance k mod 3; it
	// is redelivered until its record succeeds, as the host would, and at least
	// minDeliveries times, so that most records replace an earlier one.
	outcome := func(i, k int) RunDelta {
		d := RunDelta{Manifests: i, Deliveries: k}
		if k%2 == 1 {
			d.Retried, d.Failure = 1, fmt.Sprintf("invocation %d delivery %d: 503", i, k)
		} else {
			d.Scanned = 1
		}
		return d
	}
	last := make([]int, invocations)
	var wg sync.WaitGroup
	for i := range invocations {
		wg.Go(func() {
			for k := 1; k <= maxDeliveries; k++ {
				err := stores[k%len(stores)].RecordInvocation(ctx, "2025-07-05", "run", fmt.Sprintf("m%02d", i), outcome(i, k))
				if err == nil && k >= minDeliveries {
					last[i] = k
					return
				}
			}
			t.Errorf("invocation %d: no record succeeded in %d deliveries", i, maxDeliveries)
		})
	}
	wg.Wait()
	want := Run{Date: "2025-07-05", ID: "run", Manifests: (invocations - 1) * invocations / 2, Invocations: invocations}
	var wantFailures []string
	for i, k := range last {
		d := outcome(i, k)
		want.Scanned += d.Scanned
		want.Retried += d.Retried
		want.Deliveries += k
		if d.Failure != "" {
			wantFailures = append(wantFailures, d.Failure)
		}
	}
	got, err := base.GetRun(ctx, "2025-07-05", "run")
	if err != nil {
		t.Fatal(err)
	}
	var gotFailures []string
	if got.Failures != "" {
		gotFailures = strings.Split(got.Failures, "\n")
	}
	got.Failures = ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary after faults (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantFailures, gotFailures, cmpSorted); diff != "" {
		t.Errorf("failure lines after faults (-want +got):\n%s", diff)
	}
}

func TestASummaryWrittenBeforeGenerationUseIsRecomputedFromItsRows(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Date(2025, 7, 6, 6, 0, 0, 0, time.UTC)
	// Rows and a summary as the previous version left them: the summary missed row b.
	for _, inv := range []string{"a", "b"} {
		d := RunDelta{Scanned: 1, Deliveries: 1, Generation: "gen-" + inv, StartedAt: start.Add(map[string]time.Duration{"a": time.Minute, "b": 0}[inv])}
		if err := upsert(ctx, s.runs, d.entity("2025-07-06", "run", inv), aztables.UpdateModeReplace); err != nil {
			t.Fatal(err)
		}
	}
	old := Run{Date: "2025-07-06", ID: "run", Scanned: 1, Invocations: 1, Deliveries: 1, Generation: "gen-a", StartedAt: start.Add(time.Minute)}
	if err := upsert(ctx, s.runs, old.entity(), aztables.UpdateModeReplace); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordInvocation(ctx, "2025-07-06", "run", "c", RunDelta{Scanned: 1, Deliveries: 1, StartedAt: start.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "2025-07-06", "run")
	if err != nil {
		t.Fatal(err)
	}
	want := Run{Date: "2025-07-06", ID: "run", Scanned: 3, Invocations: 3, Deliveries: 3, Generation: "gen-b, gen-a", StartedAt: start}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestRefreshRunRepairsASummaryThatDoesNotMatchItsRows(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for _, inv := range []string{"a", "b", "c"} {
		if err := s.RecordInvocation(ctx, "2025-07-07", "run", inv, RunDelta{Scanned: 2, Deliveries: 1}); err != nil {
			t.Fatal(err)
		}
	}
	damaged := Run{Date: "2025-07-07", ID: "run", Scanned: 100, Invocations: 1}
	if err := upsert(ctx, s.runs, damaged.entity(), aztables.UpdateModeReplace); err != nil {
		t.Fatal(err)
	}
	if err := s.RefreshRun(ctx, "2025-07-07", "run"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordInvocation(ctx, "2025-07-07", "run", "d", RunDelta{Scanned: 2, Deliveries: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "2025-07-07", "run")
	if err != nil {
		t.Fatal(err)
	}
	want := Run{Date: "2025-07-07", ID: "run", Scanned: 8, Invocations: 4, Deliveries: 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary after repair and one more record (-want +got):\n%s", diff)
	}
}

func TestARedeliveryTheSummaryCannotTakeBackIncrementallyIsRecomputedExactly(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Date(2025, 7, 9, 6, 0, 0, 0, time.UTC)
	// An advisories tick redelivered with other folder outcomes, beside a scan whose
	// redelivery finished earlier than its first delivery (the run's latest finish).
	for _, rec := range []struct {
		invocation string
		d          RunDelta
	}{
		{"advisories", RunDelta{Folders: "Debian rejected: 503", Retried: 1, Failure: "Debian: 503", Deliveries: 1, StartedAt: start, FinishedAt: start.Add(time.Minute)}},
		{"scan", RunDelta{Scanned: 1, Deliveries: 1, StartedAt: start, FinishedAt: start.Add(time.Hour)}},
		{"advisories", RunDelta{Folders: "Debian updated 11382 records", Deliveries: 2, StartedAt: start.Add(2 * time.Minute), FinishedAt: start.Add(3 * time.Minute)}},
		{"scan", RunDelta{Scanned: 1, Deliveries: 2, StartedAt: start.Add(time.Minute), FinishedAt: start.Add(30 * time.Minute)}},
	} {
		if err := s.RecordInvocation(ctx, "2025-07-09", "run", rec.invocation, rec.d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetRun(ctx, "2025-07-09", "run")
	if err != nil {
		t.Fatal(err)
	}
	want := Run{Date: "2025-07-09", ID: "run", Scanned: 1, Invocations: 2, Deliveries: 4, Folders: "Debian updated 11382 records",
		StartedAt: start, FinishedAt: start.Add(30 * time.Minute), DurationMs: (30 * time.Minute).Milliseconds()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}
