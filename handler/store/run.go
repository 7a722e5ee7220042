package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// maxFailureUnits bounds the Failures column well below the property limit so that
// appending stays cheap; older failures are kept, later ones are counted only.
const maxFailureUnits = 16 * 1024

// invocationSeparator joins a run id and an invocation key in the RowKey of an
// invocation row. Run ids must not contain it.
const invocationSeparator = "~"

// Run is the scan health of one sweep (or one `tidewatch run`) as an operator reads
// it: the summary row of the runs table (PartitionKey the UTC date "2006-01-02",
// RowKey the run id), the sum of the run's invocation rows (RowKey
// "<run id>~<message id>") of that date.
type Run struct {
	Date string
	ID   string

	Repositories int
	Manifests    int
	Enqueued     int
	Scanned      int
	Failed       int
	// Retried counts messages whose latest delivery failed transiently: they wait in
	// the queue for redelivery (or, after the last, in the poison queue).
	Retried int
	// Deferred counts messages put back with the delay a registry asked for.
	Deferred int
	// Rematched counts images rows re-matched from their stored inventory (no
	// registry request); RematchEnqueued the rematch tasks sent instead of scans
	// (listrepo, per digest; advisories, the first page of a new generation).
	Rematched       int
	RematchEnqueued int
	// Rescanned counts scan tasks a rematch sent because a row's inventory was
	// missing or from another analyzer version.
	Rescanned int
	// Invocations is the number of distinct messages (and timer ticks) counted.
	Invocations int
	// Deliveries is how often those messages were delivered, redeliveries included.
	Deliveries int
	// Failures holds one line per recorded failure, truncated when long.
	Failures string

	// Generation is the advisory generation the run's invocations matched against
	// (or, for a sweep or an advisories tick, the one serving), every distinct one
	// in the order first used, comma-separated: two during a generation switch.
	// Empty when no invocation used one.
	Generation string
	// AdvisoryCheckedAt is the oldest last successful check against the advisory
	// source among those generations (what TIDEWATCH_MAX_DB_AGE counts from), and
	// AdvisoryAgeMinutes the largest age of the advisory data when an invocation
	// started.
	AdvisoryCheckedAt  time.Time
	AdvisoryAgeMinutes int
	// Folders is, for an advisories tick, each folder's outcome: "Debian updated
	// 11382 records; GIT unchanged 130 records; npm rejected: <reason>".
	Folders string
	// RejectedRecords counts the advisory records left out of the exports a sync
	// downloaded (their ids are listed, capped, in Failures).
	RejectedRecords int

	StartedAt  time.Time
	FinishedAt time.Time
	DurationMs int64
}

// RunDelta is what one invocation contributes to a [Run].
type RunDelta struct {
	Repositories, Manifests, Enqueued, Scanned, Failed, Retried, Deferred int
	// Rematched, RematchEnqueued and Rescanned are as in [Run].
	Rematched, RematchEnqueued, Rescanned int
	// Deliveries is the message's dequeue count (1 for a timer tick); the row keeps
	// the highest seen.
	Deliveries int
	// Failure, if set, is the invocation's failure line.
	Failure string
	// Generation is the advisory generation the invocation used and
	// AdvisoryCheckedAt that generation's last successful check against the source;
	// both empty when it used none.
	Generation        string
	AdvisoryCheckedAt time.Time
	// Folders and RejectedRecords are an advisories tick's (see [Run]).
	Folders         string
	RejectedRecords int
	// StartedAt and FinishedAt widen the run's time span when set.
	StartedAt, FinishedAt time.Time
}

func (r Run) entity() entity {
	e := newEntity(EscapeKey(r.Date), EscapeKey(r.ID))
	e.setInt32("Repositories", r.Repositories)
	e.setInt32("Manifests", r.Manifests)
	e.setInt32("Enqueued", r.Enqueued)
	e.setInt32("Scanned", r.Scanned)
	e.setInt32("Failed", r.Failed)
	e.setInt32("Retried", r.Retried)
	e.setInt32("Deferred", r.Deferred)
	e.setInt32("Rematched", r.Rematched)
	e.setInt32("RematchEnqueued", r.RematchEnqueued)
	e.setInt32("Rescanned", r.Rescanned)
	e.setInt32("Invocations", r.Invocations)
	e.setInt32("Deliveries", r.Deliveries)
	e.setString("Failures", r.Failures)
	e.setString("Generation", r.Generation)
	e.setTime("AdvisoryCheckedAt", r.AdvisoryCheckedAt)
	e.setInt32("AdvisoryAgeMinutes", r.AdvisoryAgeMinutes)
	e.setString("Folders", r.Folders)
	e.setInt32("RejectedRecords", r.RejectedRecords)
	e.setTime("StartedAt", r.StartedAt)
	e.setTime("FinishedAt", r.FinishedAt)
	e.setInt64("DurationMs", r.DurationMs)
	return e
}

func runFromRow(r row) (Run, error) {
	date, err := UnescapeKey(r.partitionKey())
	if err != nil {
		return Run{}, err
	}
	id, err := UnescapeKey(r.rowKey())
	if err != nil {
		return Run{}, err
	}
	return Run{
		Date:            date,
		ID:              id,
		Repositories:    r.int("Repositories"),
		Manifests:       r.int("Manifests"),
		Enqueued:        r.int("Enqueued"),
		Scanned:         r.int("Scanned"),
		Failed:          r.int("Failed"),
		Retried:         r.int("Retried"),
		Deferred:        r.int("Deferred"),
		Rematched:       r.int("Rematched"),
		RematchEnqueued: r.int("RematchEnqueued"),
		Rescanned:       r.int("Rescanned"),
		Invocations:     r.int("Invocations"),
		Deliveries:      r.int("Deliveries"),
		Failures:        r.str("Failures"),
		Generation:      r.str("Generation"),
		// Summaries written before these columns existed read as zero.
		AdvisoryCheckedAt:  r.time("AdvisoryCheckedAt"),
		AdvisoryAgeMinutes: r.int("AdvisoryAgeMinutes"),
		Folders:            r.str("Folders"),
		RejectedRecords:    r.int("RejectedRecords"),
		StartedAt:          r.time("StartedAt"),
		FinishedAt:         r.time("FinishedAt"),
		DurationMs:         r.int64("DurationMs"),
	}, nil
}

func (d RunDelta) entity(date, runID, invocation string) entity {
	e := newEntity(EscapeKey(date), invocationRowKey(runID, invocation))
	e.setString("Invocation", invocation)
	e.setInt32("Repositories", d.Repositories)
	e.setInt32("Manifests", d.Manifests)
	e.setInt32("Enqueued", d.Enqueued)
	e.setInt32("Scanned", d.Scanned)
	e.setInt32("Failed", d.Failed)
	e.setInt32("Retried", d.Retried)
	e.setInt32("Deferred", d.Deferred)
	e.setInt32("Rematched", d.Rematched)
	e.setInt32("RematchEnqueued", d.RematchEnqueued)
	e.setInt32("Rescanned", d.Rescanned)
	e.setInt32("Deliveries", d.Deliveries)
	e.setString("Failure", limitString(d.Failure))
	e.setString("Generation", d.Generation)
	e.setTime("AdvisoryCheckedAt", d.AdvisoryCheckedAt)
	if age, ok := d.advisoryAge(); ok {
		e.setInt32("AdvisoryAgeMinutes", age)
	}
	e.setString("Folders", d.Folders)
	e.setInt32("RejectedRecords", d.RejectedRecords)
	e.setTime("StartedAt", d.StartedAt)
	e.setTime("FinishedAt", d.FinishedAt)
	return e
}

func deltaFromRow(r row) RunDelta {
	return RunDelta{
		Repositories:    r.int("Repositories"),
		Manifests:       r.int("Manifests"),
		Enqueued:        r.int("Enqueued"),
		Scanned:         r.int("Scanned"),
		Failed:          r.int("Failed"),
		Retried:         r.int("Retried"),
		Deferred:        r.int("Deferred"),
		Rematched:       r.int("Rematched"),
		RematchEnqueued: r.int("RematchEnqueued"),
		Rescanned:       r.int("Rescanned"),
		Deliveries:      r.int("Deliveries"),
		Failure:         r.str("Failure"),
		Generation:      r.str("Generation"),
		// Rows written before these columns existed read as zero.
		AdvisoryCheckedAt: r.time("AdvisoryCheckedAt"),
		Folders:           r.str("Folders"),
		RejectedRecords:   r.int("RejectedRecords"),
		StartedAt:         r.time("StartedAt"),
		FinishedAt:        r.time("FinishedAt"),
	}
}

func invocationRowKey(runID, invocation string) string {
	return EscapeKey(runID) + invocationSeparator + EscapeKey(invocation)
}

// apply returns r with one invocation's d added.
func (r Run) apply(d RunDelta) Run {
	r.Repositories += d.Repositories
	r.Manifests += d.Manifests
	r.Enqueued += d.Enqueued
	r.Scanned += d.Scanned
	r.Failed += d.Failed
	r.Retried += d.Retried
	r.Deferred += d.Deferred
	r.Rematched += d.Rematched
	r.RematchEnqueued += d.RematchEnqueued
	r.Rescanned += d.Rescanned
	r.Invocations++
	r.Deliveries += max(d.Deliveries, 1)
	if d.Failure != "" {
		r.Failures = appendFailure(r.Failures, d.Failure)
	}
	r.RejectedRecords += d.RejectedRecords
	if d.Folders != "" && !strings.Contains(r.Folders, d.Folders) {
		r.Folders = appendFailure(r.Folders, d.Folders)
	}
	if !d.AdvisoryCheckedAt.IsZero() && (r.AdvisoryCheckedAt.IsZero() || d.AdvisoryCheckedAt.Before(r.AdvisoryCheckedAt)) {
		r.AdvisoryCheckedAt = d.AdvisoryCheckedAt
	}
	if age, ok := d.advisoryAge(); ok {
		r.AdvisoryAgeMinutes = max(r.AdvisoryAgeMinutes, age)
	}
	if !d.StartedAt.IsZero() && (r.StartedAt.IsZero() || d.StartedAt.Before(r.StartedAt)) {
		r.StartedAt = d.StartedAt
	}
	r.FinishedAt = later(r.FinishedAt, d.FinishedAt)
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		r.DurationMs = r.FinishedAt.Sub(r.StartedAt).Milliseconds()
	}
	return r
}

// appendFailure adds one line, keeping the column under maxFailureUnits with a
// marker once it is full.
func appendFailure(failures, failure string) string {
	if strings.Contains(failures, TruncatedMarker) {
		return failures
	}
	line := strings.ReplaceAll(failure, "\n", " ")
	next := line
	if failures != "" {
		next = failures + "\n" + line
	}
	return truncateUnits(next, maxFailureUnits)
}

// RecordInvocation records what one invocation of run runID did, under its own row
// keyed by invocation (the queue message id, or a fixed name for a timer tick), and
// brings the run's summary row up to date in the same entity-group transaction (the
// rows share the date's partition): the row is inserted, or replaced If-Match the
// ETag it was read with, and the summary replaced If-Match its own, as the summary
// minus the row's old contribution plus its new one. Either both are written or
// neither, so the summary always equals its rows; the cost does not grow with the
// run (a summary that cannot be kept incrementally, see runSummary.replace, is
// recomputed from the rows, which is rare). Within one process the records of a run
// are grouped into one transaction per batch of waiters (runRecords); across
// processes a refused transaction is re-read and retried, maxRecordAttempts times.
//
// A redelivered message replaces its counts instead of adding to them, so it counts
// once (the caller counts what the message has done by then, its earlier deliveries
// included); Deliveries keeps the highest dequeue count and StartedAt the earliest.
// An error means nothing, or everything, was written: a redelivery records again and
// counts once either way.
func (s *Store) RecordInvocation(ctx context.Context, date, runID, invocation string, d RunDelta) error {
	if strings.Contains(runID, invocationSeparator) {
		return fmt.Errorf("recording invocation %s of run %s: run ids must not contain %q", invocation, runID, invocationSeparator)
	}
	rec := &invocationRecord{invocation: invocation, delta: d}
	err := s.records.record(ctx, date+"/"+runID, rec, func(ctx context.Context, group []*invocationRecord) error {
		return s.commitRecords(ctx, date, runID, group)
	})
	if err != nil {
		return fmt.Errorf("recording invocation %s of run %s/%s: %w", invocation, date, runID, err)
	}
	return nil
}

// RefreshRun recomputes the summary row of run runID on date from its invocation
// rows: a repair, for summaries written by older versions or damaged by hand.
// RecordInvocation keeps the summary exact without it. The write is conditional on
// the summary's ETag read before the rows were listed (every row write also replaces
// the summary, so an unchanged ETag means an unchanged set of rows); a write that
// loses a race re-reads and retries, maxRecordAttempts times.
//
// Concurrent calls for one run in one process are coalesced (see runRefreshes): a call
// waits for a refresh that began after it, at most one at a time per run.
func (s *Store) RefreshRun(ctx context.Context, date, runID string) error {
	return s.refreshes.do(ctx, date+"/"+runID, func(ctx context.Context) error {
		return s.refreshRunOnce(ctx, date, runID)
	})
}

// refreshRunOnce is one uncoalesced refresh (see [Store.RefreshRun]).
func (s *Store) refreshRunOnce(ctx context.Context, date, runID string) error {
	pk, rk := EscapeKey(date), EscapeKey(runID)
	for attempt := 0; ; attempt++ {
		current, err := getRow(ctx, s.runs, pk, rk)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("refreshing run %s/%s: %w", date, runID, err)
		}
		summary, err := s.recomputeWith(ctx, date, runID, nil)
		if err != nil {
			return fmt.Errorf("refreshing run %s/%s: %w", date, runID, err)
		}
		err = writeIf(ctx, s.runs, summary.entity(), current.etag, aztables.UpdateModeReplace)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, ErrConflict):
			return fmt.Errorf("refreshing run %s/%s: %w", date, runID, err)
		case attempt == maxRecordAttempts-1:
			return fmt.Errorf("refreshing run %s/%s after %d attempts: %w", date, runID, maxRecordAttempts, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// GetInvocation reads what invocation (a queue message id) last recorded in run
// runID on date ([Store.RecordInvocation]); ErrNotFound when it recorded nothing.
func (s *Store) GetInvocation(ctx context.Context, date, runID, invocation string) (RunDelta, error) {
	r, err := getRow(ctx, s.runs, EscapeKey(date), invocationRowKey(runID, invocation))
	if err != nil {
		return RunDelta{}, fmt.Errorf("reading invocation %s of run %s/%s: %w", invocation, date, runID, err)
	}
	return deltaFromRow(r), nil
}

// SummarizeRun sums the invocation rows of run runID on date, without writing.
func (s *Store) SummarizeRun(ctx context.Context, date, runID string) (Run, error) {
	summary, err := s.recomputeWith(ctx, date, runID, nil)
	if err != nil {
		return Run{}, fmt.Errorf("summarizing run %s/%s: %w", date, runID, err)
	}
	return summary.run, nil
}

// listInvocationRows lists the invocation rows of run runID on date.
func (s *Store) listInvocationRows(ctx context.Context, date, runID string) ([]row, error) {
	prefix := EscapeKey(runID) + invocationSeparator
	// '~' is the last printable ASCII character, so "<prefix>" ≤ key < "<run id>\x7f"
	// is exactly the keys starting with prefix that EscapeKey can produce.
	filter := "PartitionKey eq " + odataQuote(EscapeKey(date)) +
		" and RowKey ge " + odataQuote(prefix) + " and RowKey lt " + odataQuote(EscapeKey(runID)+"\x7f")
	rows, err := listRows(ctx, s.runs, filter, "")
	if err != nil {
		return nil, fmt.Errorf("listing the invocations of run %s/%s: %w", date, runID, err)
	}
	return rows, nil
}

// summarize is the summary of run runID on date with the invocation rows deltas.
func summarize(date, runID string, deltas []RunDelta) Run {
	return summarizeState(date, runID, deltas).run
}

// GetRun reads one run's summary row; ErrNotFound when absent.
func (s *Store) GetRun(ctx context.Context, date, runID string) (Run, error) {
	r, err := getRow(ctx, s.runs, EscapeKey(date), EscapeKey(runID))
	if err != nil {
		return Run{}, fmt.Errorf("reading run %s/%s: %w", date, runID, err)
	}
	return runFromRow(r)
}

// ListRuns returns the run summaries of since's UTC date and later, oldest date
// first. Invocation rows are left out.
func (s *Store) ListRuns(ctx context.Context, since time.Time) ([]Run, error) {
	filter := "PartitionKey ge " + odataQuote(since.UTC().Format(time.DateOnly))
	rows, err := listRows(ctx, s.runs, filter, "")
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	runs := make([]Run, 0, len(rows))
	for _, r := range rows {
		if strings.Contains(r.rowKey(), invocationSeparator) {
			continue
		}
		run, err := runFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("listing runs: %w", err)
		}
		runs = append(runs, run)
	}
	return runs, nil
}
