package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Sweep is the timer function: one list task per repository of every configured
// registry, after recording the registry's pull activity (Log Analytics, when a
// workspace is configured). A registry whose pulls can't be read or that can't be
// listed fails the sweep after the others ran.
// The tick is one invocation of its run, recorded under the key "sweep".
func (p *Pipeline) Sweep(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	now := p.now().UTC()
	runID := now.Format("20060102T150405Z")
	if timer, err := inv.Timer(host.TimerBinding); err == nil && timer.IsPastDue {
		log.Warn("sweep timer is past due")
	}
	var firstErr error
	d := store.RunDelta{}
	fail := func(err error) {
		d.Failed++
		d.Failure = strings.TrimPrefix(d.Failure+"\n"+err.Error(), "\n")
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, r := range p.cfg.Registries {
		// Pulls first: the list tasks sent next judge due-ness by them. A registry
		// whose pulls cannot be read is still listed (push activity goes on).
		if rejected, err := p.sweepPulls(ctx, log, r.Host, now); err != nil {
			log.Error("reading pull activity failed", "registry", r.Host, "error", err)
			fail(fmt.Errorf("%s: %w", r.Host, err))
		} else if rejected != "" {
			d.Failure = strings.TrimPrefix(d.Failure+"\n"+rejected, "\n")
		}
		n, err := p.sweepRegistry(ctx, log, r.Host, runID, now)
		d.Repositories += n
		log.Info("swept registry", "registry", r.Host, "repositories", n, "runId", runID)
		if err != nil {
			log.Error("sweeping registry failed", "registry", r.Host, "error", err)
			fail(err)
		}
	}
	d.StartedAt, d.FinishedAt = now, p.now().UTC()
	rctx, cancel := recordContext(ctx)
	defer cancel()
	p.servingUse(rctx, log).stamp(&d) // the generation the run's scans will start from
	if err := p.runs.RecordInvocation(rctx, runDate(now), runID, sweepInvocation, d); err != nil {
		log.Error("recording run", "runId", runID, "error", err)
		return errors.Join(firstErr, fmt.Errorf("recording run %s: %w", runID, err))
	}
	return firstErr
}

// sweepInvocation is the invocation key of a sweep tick in its run.
const sweepInvocation = "sweep"

// sweepRegistry enqueues a list task per repository of one registry (for ACR, per
// changed repository: see sweepACR) and returns how many it enqueued.
func (p *Pipeline) sweepRegistry(ctx context.Context, log *slog.Logger, registryHost, runID string, now time.Time) (int, error) {
	c, err := p.registry(registryHost)
	if err != nil {
		return 0, err
	}
	if src, ok := p.acr[registryHost]; ok {
		return p.sweepACR(ctx, log, src, registryHost, runID, now)
	}
	repos, err := c.Repositories(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing repositories of %s: %w", registryHost, err)
	}
	for i, repo := range repos {
		task := store.ListTask{Registry: registryHost, Repository: repo, RunID: runID,
			Window: store.Window{PushDays: p.cfg.PushDays, PullDays: p.cfg.PullDays}}
		msg, err := store.EncodeListTask(task)
		if err == nil {
			err = p.listTasks.Send(ctx, msg)
		}
		if err != nil {
			return i, fmt.Errorf("enqueueing list task for %s/%s: %w", registryHost, repo, err)
		}
	}
	return len(repos), nil
}
