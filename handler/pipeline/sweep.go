package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Sweep is the timer function: one list task per repository of every configured
// registry. A registry that can't be listed fails the sweep after the others ran.
func (p *Pipeline) Sweep(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	now := p.now().UTC()
	runID := now.Format("20060102T150405Z")
	if timer, err := inv.Timer(host.TimerBinding); err == nil && timer.IsPastDue {
		log.Warn("sweep timer is past due")
	}
	var firstErr error
	for _, r := range p.cfg.Registries {
		n, err := p.sweepRegistry(ctx, r.Host, runID)
		log.Info("swept registry", "registry", r.Host, "repositories", n, "runId", runID)
		if err != nil {
			log.Error("sweeping registry failed", "registry", r.Host, "error", err)
			if rerr := p.store.AddToRun(ctx, runDate(now), runID, store.RunDelta{Failed: 1, Failure: err.Error()}); rerr != nil {
				log.Error("recording run failure", "error", rerr)
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

func (p *Pipeline) sweepRegistry(ctx context.Context, registryHost, runID string) (int, error) {
	c, err := p.registry(registryHost)
	if err != nil {
		return 0, err
	}
	repos, err := c.Repositories(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing repositories of %s: %w", registryHost, err)
	}
	for _, repo := range repos {
		task := store.ListTask{Registry: registryHost, Repository: repo, RunID: runID,
			Window: store.Window{PushDays: p.cfg.PushDays, PullDays: p.cfg.PullDays}}
		msg, err := store.EncodeListTask(task)
		if err == nil {
			err = p.store.ListTasks().Send(ctx, msg)
		}
		if err != nil {
			return 0, fmt.Errorf("enqueueing list task for %s/%s: %w", registryHost, repo, err)
		}
	}
	now := p.now().UTC()
	if err := p.store.AddToRun(ctx, runDate(now), runID, store.RunDelta{Repositories: len(repos), StartedAt: now, FinishedAt: now}); err != nil {
		return len(repos), fmt.Errorf("recording run %s: %w", runID, err)
	}
	return len(repos), nil
}
