package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// maxFailureUnits bounds the Failures column well below the property limit so that
// appending stays cheap; older failures are kept, later ones are counted only.
const maxFailureUnits = 16 * 1024

// Run is the scan health of one sweep (or one `tidewatch run`): a row of the runs
// table (PartitionKey the UTC date "2006-01-02", RowKey the run id).
type Run struct {
	Date string
	ID   string

	Repositories int
	Manifests    int
	Enqueued     int
	Scanned      int
	Failed       int
	Retried      int
	// Failures holds one line per recorded failure, truncated when long.
	Failures string

	StartedAt  time.Time
	FinishedAt time.Time
	DurationMs int64
}

// RunDelta is what one invocation adds to a [Run].
type RunDelta struct {
	Repositories, Manifests, Enqueued, Scanned, Failed, Retried int
	// Failure, if set, is appended as a line to Failures.
	Failure string
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
	e.setString("Failures", r.Failures)
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
		Date:         date,
		ID:           id,
		Repositories: r.int("Repositories"),
		Manifests:    r.int("Manifests"),
		Enqueued:     r.int("Enqueued"),
		Scanned:      r.int("Scanned"),
		Failed:       r.int("Failed"),
		Retried:      r.int("Retried"),
		Failures:     r.str("Failures"),
		StartedAt:    r.time("StartedAt"),
		FinishedAt:   r.time("FinishedAt"),
		DurationMs:   r.int64("DurationMs"),
	}, nil
}

// apply returns r with d merged in.
func (r Run) apply(d RunDelta) Run {
	r.Repositories += d.Repositories
	r.Manifests += d.Manifests
	r.Enqueued += d.Enqueued
	r.Scanned += d.Scanned
	r.Failed += d.Failed
	r.Retried += d.Retried
	if d.Failure != "" {
		r.Failures = appendFailure(r.Failures, d.Failure)
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

// AddToRun merges d into run runID of date (creating it), retrying on concurrent
// updates so no increment is lost.
func (s *Store) AddToRun(ctx context.Context, date, runID string, d RunDelta) error {
	err := readModifyWrite(ctx, s.runs, EscapeKey(date), EscapeKey(runID), func(current row, exists bool) (entity, bool, error) {
		run := Run{Date: date, ID: runID}
		if exists {
			var err error
			if run, err = runFromRow(current); err != nil {
				return nil, false, err
			}
		}
		return run.apply(d).entity(), true, nil
	})
	if err != nil {
		return fmt.Errorf("adding to run %s/%s: %w", date, runID, err)
	}
	return nil
}

// GetRun reads one run; ErrNotFound when absent.
func (s *Store) GetRun(ctx context.Context, date, runID string) (Run, error) {
	r, err := getRow(ctx, s.runs, EscapeKey(date), EscapeKey(runID))
	if err != nil {
		return Run{}, fmt.Errorf("reading run %s/%s: %w", date, runID, err)
	}
	return runFromRow(r)
}

// ListRuns returns the runs of since's UTC date and later, oldest date first.
func (s *Store) ListRuns(ctx context.Context, since time.Time) ([]Run, error) {
	filter := "PartitionKey ge " + odataQuote(since.UTC().Format(time.DateOnly))
	rows, err := listRows(ctx, s.runs, filter, "")
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	runs := make([]Run, 0, len(rows))
	for _, r := range rows {
		run, err := runFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("listing runs: %w", err)
		}
		runs = append(runs, run)
	}
	return runs, nil
}
