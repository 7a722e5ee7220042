package pipeline

import (
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

// rejectedRun is the runs RowKey under which undecodable messages are recorded.
const rejectedRun = "rejected-messages"

// rejectMessage records a message that can never be processed (with its text, so
// nothing is lost) and completes it.
func (p *Pipeline) rejectMessage(ctx context.Context, log *slog.Logger, function string, text []byte, cause error) error {
	err := fmt.Errorf("%s: rejecting message %q: %w", function, truncate(string(text), 2048), cause)
	log.Error("rejected queue message", "error", err)
	if rerr := p.store.AddToRun(ctx, runDate(p.now().UTC()), rejectedRun, store.RunDelta{Failed: 1, Failure: err.Error()}); rerr != nil {
		// Could not record it: let the host retry and, eventually, keep it in poison.
		return fmt.Errorf("recording rejected message: %w (cause: %v)", rerr, err)
	}
	return host.Permanent(err)
}

// registryFailure classifies a registry error: transient ones are retried by the host.
func (p *Pipeline) registryFailure(ctx context.Context, log *slog.Logger, runID string, err error) error {
	now := p.now().UTC()
	if isTransient(err) {
		p.addToRun(ctx, log, now, runID, store.RunDelta{Retried: 1})
		return err
	}
	p.addToRun(ctx, log, now, runID, store.RunDelta{Failed: 1, Failure: err.Error()})
	return host.Permanent(err)
}

func (p *Pipeline) addToRun(ctx context.Context, log *slog.Logger, now time.Time, runID string, d store.RunDelta) {
	if d.FinishedAt.IsZero() {
		d.FinishedAt = now // the run's duration spans its last recorded step
	}
	if err := p.store.AddToRun(ctx, runDate(now), runID, d); err != nil {
		log.Error("recording run counters", "runId", runID, "error", err)
	}
}

// isTransient reports whether retrying may help. Malformed images are permanent
// whatever the transport said.
func isTransient(err error) bool {
	if errors.Is(err, image.ErrMalformed) {
		return false
	}
	return registry.IsTransient(err)
}

// runDate is the runs PartitionKey for t.
func runDate(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
