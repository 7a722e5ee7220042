package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// maxRecordAttempts bounds the transactions one group of invocation records tries
// when another process (or a repair) changes the summary between its read and its
// write. Within a process records of a run never race (runRecords), so a conflict
// needs concurrent instances; each retry re-reads and backs off.
const maxRecordAttempts = 10

// runRecords groups the invocation records of each run in one Store: while a group of
// a run is being committed, the records that arrive queue, and the next transaction
// takes all of them (up to maxBatch-1 rows and the summary). So records of one run
// never race each other for the summary's ETag in a process, and 32 concurrent
// invocations cost a few transactions, not 32 rounds of optimistic retries.
type runRecords struct {
	mu      sync.Mutex
	pending map[string]*runRecordQueue
}

// runRecordQueue is one run's queue: whether a committer is running and the records
// waiting for the next transaction.
type runRecordQueue struct {
	running bool
	queue   []*invocationRecord
}

// invocationRecord is one RecordInvocation call waiting to be committed.
type invocationRecord struct {
	ctx        context.Context // the caller's: a record whose caller gave up is dropped
	invocation string
	delta      RunDelta
	done       chan error
}

// record queues rec under key and waits for the transaction that commits it, starting
// a committer when none is running. commit gets a context of its own (bounded by
// refreshTimeout): a caller giving up does not fail the others.
func (r *runRecords) record(ctx context.Context, key string, rec *invocationRecord,
	commit func(context.Context, []*invocationRecord) error) error {
	rec.ctx, rec.done = ctx, make(chan error, 1)
	r.mu.Lock()
	if r.pending == nil {
		r.pending = map[string]*runRecordQueue{}
	}
	q := r.pending[key]
	if q == nil {
		q = &runRecordQueue{}
		r.pending[key] = q
	}
	q.queue = append(q.queue, rec)
	if !q.running {
		q.running = true
		go r.loop(context.WithoutCancel(ctx), key, q, commit)
	}
	r.mu.Unlock()
	select {
	case err := <-rec.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop commits groups of q's records until none is left.
func (r *runRecords) loop(ctx context.Context, key string, q *runRecordQueue, commit func(context.Context, []*invocationRecord) error) {
	for {
		r.mu.Lock()
		group := q.take()
		if len(group) == 0 && len(q.queue) == 0 {
			q.running = false
			delete(r.pending, key)
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		if len(group) > 0 {
			commitGroup(ctx, group, commit)
		}
	}
}

// take removes the next group from the queue: records of distinct invocations (a
// transaction may touch a row once), at most maxBatch-1 of them, in arrival order.
// Records whose caller has given up are answered and dropped: committing one late
// could replace what a later delivery of its message recorded meanwhile.
func (q *runRecordQueue) take() []*invocationRecord {
	var group, rest []*invocationRecord
	seen := map[string]bool{}
	for _, rec := range q.queue {
		switch {
		case rec.ctx.Err() != nil:
			rec.done <- rec.ctx.Err()
		case seen[rec.invocation] || len(group) == maxBatch-1:
			rest = append(rest, rec)
		default:
			seen[rec.invocation] = true
			group = append(group, rec)
		}
	}
	q.queue = rest
	return group
}

// commitGroup commits group and answers its records. A group refused for good (a
// request storage rejects) is split, so one bad record does not fail the others.
func commitGroup(ctx context.Context, group []*invocationRecord, commit func(context.Context, []*invocationRecord) error) {
	cctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	err := commit(cctx, group)
	cancel()
	if err != nil && len(group) > 1 && IsPermanent(err) {
		for _, rec := range group {
			commitGroup(ctx, []*invocationRecord{rec}, commit)
		}
		return
	}
	for _, rec := range group {
		rec.done <- err
	}
}

// rowChange is one invocation row as a transaction changes it.
type rowChange struct {
	old  *RunDelta // nil: the row is new (or assumed new)
	etag string    // old's
	next RunDelta  // as the row will read back
	row  entity
}

// commitRecords writes the invocation rows of group and the summary of run runID on
// date in one entity-group transaction, each write conditional on what it was computed
// from (see [Store.RecordInvocation]). A first delivery's row is assumed absent and
// inserted without being read; if it exists, the transaction is refused and the retry
// reads every row.
func (s *Store) commitRecords(ctx context.Context, date, runID string, group []*invocationRecord) error {
	readRows := false
	for attempt := 0; ; attempt++ {
		actions, err := s.planRecords(ctx, date, runID, group, readRows)
		if err == nil {
			err = submitActions(ctx, s.runs, actions)
		}
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, ErrConflict):
			return err
		case attempt == maxRecordAttempts-1:
			return fmt.Errorf("after %d attempts: %w", maxRecordAttempts, err)
		}
		readRows = true
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// planRecords reads the summary (and, when readRows or for a redelivery, each
// invocation row) and returns the transaction that records group.
func (s *Store) planRecords(ctx context.Context, date, runID string, group []*invocationRecord, readRows bool) ([]tableAction, error) {
	pk := EscapeKey(date)
	current, err := getRow(ctx, s.runs, pk, EscapeKey(runID))
	summaryExists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("reading the summary: %w", err)
	}
	changes := make([]rowChange, 0, len(group))
	for _, rec := range group {
		c, err := s.changeFor(ctx, date, runID, rec, readRows || rec.delta.Deliveries > 1)
		if err != nil {
			return nil, err
		}
		changes = append(changes, c)
	}
	summary, ok := runSummary{}, false
	if summaryExists {
		if summary, ok, err = summaryFromRow(current); err != nil {
			return nil, err
		}
	}
	for i := 0; ok && i < len(changes); i++ {
		summary, ok = summary.replace(changes[i].old, changes[i].next)
	}
	if !ok {
		if summary, err = s.recomputeWith(ctx, date, runID, changes); err != nil {
			return nil, err
		}
	}
	actions := make([]tableAction, 0, len(changes)+1)
	for _, c := range changes {
		actions = append(actions, conditionalWrite(c.row, c.old != nil, c.etag))
	}
	return append(actions, conditionalWrite(summary.entity(), summaryExists, current.etag)), nil
}

// changeFor is rec's row change; read says whether to read the row (else it is
// assumed new).
func (s *Store) changeFor(ctx context.Context, date, runID string, rec *invocationRecord, read bool) (rowChange, error) {
	d := rec.delta
	var c rowChange
	if read {
		current, err := getRow(ctx, s.runs, EscapeKey(date), invocationRowKey(runID, rec.invocation))
		switch {
		case err == nil:
			old := deltaFromRow(current)
			c.old, c.etag = &old, current.etag
			// A redelivery keeps the highest dequeue count and the earliest start.
			d.Deliveries = max(d.Deliveries, old.Deliveries)
			if !old.StartedAt.IsZero() && (d.StartedAt.IsZero() || old.StartedAt.Before(d.StartedAt)) {
				d.StartedAt = old.StartedAt
			}
		case !errors.Is(err, ErrNotFound):
			return rowChange{}, fmt.Errorf("reading invocation %s: %w", rec.invocation, err)
		}
	}
	c.row = d.entity(date, runID, rec.invocation)
	next, err := readBack(c.row)
	if err != nil {
		return rowChange{}, err
	}
	c.next = deltaFromRow(next)
	return c, nil
}

// readBack is e as the service will return it (times at 100 ns, strings limited), so
// that an incremental summary equals one recomputed from the rows.
func readBack(e entity) (row, error) {
	body, err := e.marshal()
	if err != nil {
		return row{}, err
	}
	return parseRow(body)
}

// conditionalWrite replaces e if it has etag, or inserts it when it does not exist.
func conditionalWrite(e entity, exists bool, etag string) tableAction {
	if !exists {
		return tableAction{entity: e, action: aztables.TransactionTypeAdd}
	}
	return tableAction{entity: e, action: aztables.TransactionTypeUpdateReplace, etag: etag}
}

// recomputeWith is the summary recomputed from the run's invocation rows, with
// changes applied. It is consistent with the summary read before it: every write of an
// invocation row also replaces the summary, so if the transaction's If-Match on the
// summary holds, no row changed since.
func (s *Store) recomputeWith(ctx context.Context, date, runID string, changes []rowChange) (runSummary, error) {
	rows, err := s.listInvocationRows(ctx, date, runID)
	if err != nil {
		return runSummary{}, err
	}
	byKey := make(map[string]RunDelta, len(rows)+len(changes))
	for _, r := range rows {
		byKey[r.rowKey()] = deltaFromRow(r)
	}
	for _, c := range changes {
		byKey[c.row["RowKey"].(string)] = c.next
	}
	deltas := make([]RunDelta, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		deltas = append(deltas, byKey[k])
	}
	return summarizeState(date, runID, deltas), nil
}
