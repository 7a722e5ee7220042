package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// outcomeOf names what the host does with a function's result.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "done"
	case host.IsDeferred(err):
		return "deferred"
	case host.IsPermanent(err):
		return "permanent"
	}
	return "transient"
}

func TestEachScanFailureIsClassifiedPermanentTransientOrDeferred(t *testing.T) {
	const budget = time.Minute
	storage := func(status int) error {
		return fmt.Errorf("reading layer cache: %w", &azcore.ResponseError{StatusCode: status, ErrorCode: http.StatusText(status)})
	}
	registryErr := func(status int, retryAfter time.Duration) error {
		return fmt.Errorf("resolving image: %w", &registry.Error{Op: "GET manifest", Ref: testRepo, Status: status, RetryAfter: retryAfter, Err: errors.New(http.StatusText(status))})
	}
	type want struct {
		Outcome  string
		Recorded bool          // a failed images row was written
		Deferred time.Duration // the task was sent again with this delay
		Run      store.RunDelta
	}
	tests := []struct {
		name     string
		cause    error
		delivery int
		want     want
	}{
		{name: "an unclassified error is transient and not recorded before the last delivery",
			cause: errors.New("something nobody classified"), delivery: 1,
			want: want{Outcome: "transient", Run: store.RunDelta{Retried: 1}}},
		{name: "an unclassified error on the last delivery is recorded before the message goes to poison",
			cause: errors.New("something nobody classified"), delivery: host.MaxDequeueCount,
			want: want{Outcome: "transient", Recorded: true, Run: store.RunDelta{Retried: 1}}},
		{name: "a storage 503 is transient",
			cause: storage(http.StatusServiceUnavailable), delivery: 1,
			want: want{Outcome: "transient", Run: store.RunDelta{Retried: 1}}},
		{name: "a storage 400 is permanent and recorded",
			cause: storage(http.StatusBadRequest), delivery: 1,
			want: want{Outcome: "permanent", Recorded: true, Run: store.RunDelta{Failed: 1}}},
		{name: "a malformed image is permanent and recorded",
			cause: fmt.Errorf("reading layer 2: %w", image.ErrMalformed), delivery: 1,
			want: want{Outcome: "permanent", Recorded: true, Run: store.RunDelta{Failed: 1}}},
		{name: "a registry 404 is permanent and recorded",
			cause: registryErr(http.StatusNotFound, 0), delivery: 1,
			want: want{Outcome: "permanent", Recorded: true, Run: store.RunDelta{Failed: 1}}},
		{name: "a registry 500 is transient",
			cause: registryErr(http.StatusInternalServerError, 0), delivery: 2,
			want: want{Outcome: "transient", Run: store.RunDelta{Retried: 1}}},
		{name: "a 429 whose Retry-After fits in the budget is transient",
			cause: registryErr(http.StatusTooManyRequests, 10*time.Second), delivery: 1,
			want: want{Outcome: "transient", Run: store.RunDelta{Retried: 1}}},
		{name: "a 429 whose Retry-After is longer than the budget re-enqueues the task with that delay",
			cause: registryErr(http.StatusTooManyRequests, 10*time.Minute), delivery: 1,
			want: want{Outcome: "deferred", Deferred: 10 * time.Minute, Run: store.RunDelta{Deferred: 1}}},
		{name: "a Retry-After longer than the queue allows is capped at the queue's maximum delay",
			cause: registryErr(http.StatusTooManyRequests, 30*24*time.Hour), delivery: 1,
			want: want{Outcome: "deferred", Deferred: store.MaxSendDelay, Run: store.RunDelta{Deferred: 1}}},
		{name: "a spent budget is transient even around a permanent-looking cause",
			cause: fmt.Errorf("fetching layer: %w", errors.Join(context.DeadlineExceeded, image.ErrMalformed)), delivery: 1,
			want: want{Outcome: "transient", Run: store.RunDelta{Retried: 1}}},
		{name: "a spent registry retry budget is transient",
			cause: fmt.Errorf("fetching layer: %w", registry.ErrBudgetExhausted), delivery: 1,
			want: want{Outcome: "transient", Run: store.RunDelta{Retried: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			p := unitPipeline(t, m, fakeRegistry{})
			task := store.ScanTask{Registry: testRegistry, Repository: testRepo, Digest: digestA, Tags: []string{"1"}, Reason: "push", RunID: "run-1"}
			text, err := store.EncodeScanTask(task)
			if err != nil {
				t.Fatal(err)
			}
			inv := queueInvocation(t, FuncScan, text, "msg-1", tt.delivery)
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()

			d, err := p.scanFailure(ctx, discardLog(), inv, task, text, tt.cause, testNow)

			got := want{Outcome: outcomeOf(err), Run: store.RunDelta{Failed: d.Failed, Retried: d.Retried, Deferred: d.Deferred}}
			img, recorded := m.images[key(testRegistry, testRepo, digestA)]
			got.Recorded = recorded
			if sent := m.sent["scan-tasks"]; len(sent) == 1 && sent[0].Text == string(text) {
				got.Deferred = sent[0].Delay
			} else if len(sent) > 0 {
				t.Errorf("scan queue holds %d messages, want at most the task itself", len(sent))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
			if recorded && (img.Status != "failed" || img.LastError == "" || img.LastErrorAt.IsZero()) {
				t.Errorf("recorded row = status %q, LastError %q at %v; want failed with the cause", img.Status, img.LastError, img.LastErrorAt)
			}
		})
	}
}

func TestAFailedScanOfADigestWithAGoodRowKeepsItsCountsAndRecordsTheError(t *testing.T) {
	m := newMemStore()
	good := store.Image{Registry: testRegistry, Repository: testRepo, Digest: digestA, Status: "scanned",
		LastScannedAt: testNow.Add(-time.Hour), Counts: store.Counts{High: 3, FixableCount: 2}}
	m.images[key(testRegistry, testRepo, digestA)] = good
	p := unitPipeline(t, m, fakeRegistry{})
	task := store.ScanTask{Registry: testRegistry, Repository: testRepo, Digest: digestA, Reason: "push", RunID: "run-1"}
	text, err := store.EncodeScanTask(task)
	if err != nil {
		t.Fatal(err)
	}
	inv := queueInvocation(t, FuncScan, text, "msg-1", 1)

	_, err = p.scanFailure(context.Background(), discardLog(), inv, task, text, fmt.Errorf("reading config: %w", image.ErrMalformed), testNow)

	if !host.IsPermanent(err) {
		t.Fatalf("outcome = %v, want permanent", err)
	}
	want := good
	want.LastError, want.LastErrorAt = "reading config: "+image.ErrMalformed.Error(), testNow
	if diff := cmp.Diff(want, m.images[key(testRegistry, testRepo, digestA)]); diff != "" {
		t.Errorf("images row (-want +got):\n%s", diff)
	}
}

func TestADeferralThatCannotBeSentIsLeftToTheHost(t *testing.T) {
	m := newMemStore()
	m.failAt = 1 // the re-enqueue
	p := unitPipeline(t, m, fakeRegistry{})
	task := store.ScanTask{Registry: testRegistry, Repository: testRepo, Digest: digestA, Reason: "push", RunID: "run-1"}
	text, err := store.EncodeScanTask(task)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cause := &registry.Error{Op: "GET", Status: http.StatusTooManyRequests, RetryAfter: time.Hour, Err: errors.New("slow down")}

	d, err := p.scanFailure(ctx, discardLog(), queueInvocation(t, FuncScan, text, "msg-1", 1), task, text, cause, testNow)

	if got := outcomeOf(err); got != "transient" {
		t.Errorf("outcome = %s (%v), want transient: the message must stay in the queue", got, err)
	}
	if d.Retried != 1 || d.Deferred != 0 {
		t.Errorf("run delta = %+v, want one retry and no deferral", d)
	}
}
