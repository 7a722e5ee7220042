package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// rejectedRun is the run under which undecodable messages are recorded.
const rejectedRun = "rejected-messages"

// recordTimeout bounds the writes that record an invocation's outcome. They run
// detached from the invocation's context, whose budget may be what just ran out.
const recordTimeout = 15 * time.Second

// recordContext is the context outcome records are written with: not cancelled with
// ctx, and with its own short deadline.
func recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// isPermanent reports whether retrying cannot help. Only an edge that knows says so
// (the image is malformed, the registry refused for good, storage rejected the
// request itself); everything else, unclassified errors included, is transient: the
// host retries it and, after the last delivery, keeps it in the poison queue. A spent
// budget is always transient.
func isPermanent(ctx context.Context, err error) bool {
	switch {
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, registry.ErrBudgetExhausted):
		return false
	}
	return errors.Is(err, image.ErrMalformed) || registry.IsPermanent(err) || store.IsPermanent(err)
}

// rejectMessage records a message that can never be processed (with its text, so
// nothing is lost) and completes it.
func (p *Pipeline) rejectMessage(ctx context.Context, log *slog.Logger, inv *host.Invocation, function string, text []byte, cause error) error {
	err := fmt.Errorf("%s: rejecting message %q: %w", function, truncate(string(text), 2048), cause)
	log.Error("rejected queue message", "error", err)
	now := p.now().UTC()
	d := store.RunDelta{Failed: 1, Failure: err.Error(), Deliveries: inv.DequeueCount(), StartedAt: now, FinishedAt: now}
	if rerr := p.recordRun(ctx, inv, rejectedRun, now, d); rerr != nil {
		// Could not record it: let the host retry and, eventually, keep it in poison.
		return fmt.Errorf("recording rejected message: %w (cause: %v)", rerr, err)
	}
	return host.Permanent(err)
}

// failure decides what a failed task becomes. A registry's Retry-After longer than
// the budget left re-enqueues text on q with that delay and completes this message;
// a permanent failure is recorded (record, when not nil) and completed; anything else
// is returned for the host to retry, recorded on the last delivery. It returns what
// the run should count and the invocation's outcome.
func (p *Pipeline) failure(ctx context.Context, log *slog.Logger, inv *host.Invocation, q taskQueue, text []byte,
	cause error, record func(ctx context.Context, cause error)) (store.RunDelta, error) {
	if wait, ok := deferral(ctx, cause); ok {
		rctx, cancel := recordContext(ctx)
		defer cancel()
		if err := q.SendAfter(rctx, text, wait); err != nil {
			return store.RunDelta{Retried: 1, Failure: cause.Error()}, fmt.Errorf("deferring by %s: %w (cause: %w)", wait, err, cause)
		}
		return store.RunDelta{Deferred: 1}, host.Deferred(wait, cause)
	}
	if isPermanent(ctx, cause) {
		log.Error("task failed permanently", "error", cause)
		if record != nil {
			record(ctx, cause)
		}
		return store.RunDelta{Failed: 1, Failure: cause.Error()}, host.Permanent(cause)
	}
	n := inv.DequeueCount()
	log.Warn("task failed, the host will retry it", "error", cause, "dequeueCount", n)
	if n >= host.MaxDequeueCount && record != nil {
		record(ctx, fmt.Errorf("giving up after %d deliveries: %w", n, cause))
	}
	return store.RunDelta{Retried: 1, Failure: cause.Error()}, cause
}

// deferral returns the wait a registry asked for when it is longer than what is left
// of ctx's budget (capped at the queue's maximum delay).
func deferral(ctx context.Context, err error) (time.Duration, bool) {
	wait, ok := registry.RetryAfter(err)
	deadline, bounded := ctx.Deadline()
	if !ok || !bounded || wait <= time.Until(deadline) {
		return 0, false
	}
	return min(wait, store.MaxSendDelay), true
}

// finish records the invocation's contribution to its run and returns its outcome.
// A record that cannot be written turns the outcome transient: the redelivered
// message redoes its idempotent work and records again.
func (p *Pipeline) finish(ctx context.Context, log *slog.Logger, inv *host.Invocation, runID string, started time.Time, d store.RunDelta, outcome error) error {
	d.StartedAt, d.FinishedAt = started, p.now().UTC()
	d.Deliveries = inv.DequeueCount()
	if d.Generation == "" {
		p.loadedUse().stamp(&d) // e.g. the generation a listing judged due-ness by
	}
	err := p.recordRun(ctx, inv, runID, started, d)
	if err == nil {
		return outcome
	}
	log.Error("recording run counters", "runId", runID, "error", err)
	if host.IsDeferred(outcome) {
		return outcome // a redelivery would run the task twice: keep the deferral, lose the count
	}
	if outcome != nil && !host.IsPermanent(outcome) {
		return outcome
	}
	return fmt.Errorf("recording the outcome in run %s: %w", runID, err)
}

// recordRun writes d as this invocation's row of run runID and, in the same
// transaction, the run's summary (store.RecordInvocation).
func (p *Pipeline) recordRun(ctx context.Context, inv *host.Invocation, runID string, now time.Time, d store.RunDelta) error {
	rctx, cancel := recordContext(ctx)
	defer cancel()
	return p.runs.RecordInvocation(rctx, runDate(now), runOf(runID), invocationKey(inv), d)
}

// runOf is the run an invocation of runID is recorded in.
func runOf(runID string) string { return cmp.Or(runID, "unattributed") }

// invocationKey identifies what is counted once in a run: the queue message (the same
// on every delivery), else the invocation.
func invocationKey(inv *host.Invocation) string {
	if id := inv.MessageID(); id != "" {
		return id
	}
	return inv.InvocationID
}

// runDate is the runs PartitionKey for t.
func runDate(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
