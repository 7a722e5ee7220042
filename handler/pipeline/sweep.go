package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/store"
	"golang.org/x/sync/errgroup"
)

// Sweep is the timer function: list tasks for every repository of every configured
// registry (up to 50 repositories a task, see listTaskSize), after recording the registry's pull activity (Log Analytics, when a
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

// sweepRegistry enqueues list tasks for every repository of one registry (for ACR,
// every changed repository: see sweepACR) and returns how many repositories it
// enqueued. Each catalog page's list tasks go out before the next page is asked for:
// docker-registry walks its storage for every page, and the list-task workers need
// not wait for the whole walk. A page that cannot be listed or sent stops the walk;
// what earlier pages sent stays sent (list tasks are idempotent).
func (p *Pipeline) sweepRegistry(ctx context.Context, log *slog.Logger, registryHost, runID string, now time.Time) (int, error) {
	c, err := p.registry(registryHost)
	if err != nil {
		return 0, err
	}
	if src, ok := p.acr[registryHost]; ok {
		return p.sweepACR(ctx, log, src, registryHost, runID, now)
	}
	known := p.repositoriesWithActivity(ctx, log, registryHost)
	var (
		enqueued, pages int
		invalid         []error
		sendErr         error
	)
	err = c.RepositoryPages(ctx, func(ctx context.Context, repos []string) error {
		pages++
		batch := make([]store.ListRepository, 0, len(repos))
		for _, repo := range repos {
			batch = append(batch, store.ListRepository{Name: repo, New: known != nil && !known[repo]})
		}
		n, bad, err := p.sendListTaskBatches(ctx, registryHost, runID, batch)
		enqueued += n
		invalid = append(invalid, bad...)
		sendErr = err
		return err
	})
	switch {
	case sendErr != nil:
		err = sendErr // the registry answered; the queue did not
	case err != nil && pages > 0:
		err = fmt.Errorf("listing repositories of %s after %d catalog pages: %w", registryHost, pages, err)
	case err != nil:
		err = fmt.Errorf("listing repositories of %s: %w", registryHost, err)
	}
	return enqueued, errors.Join(append([]error{err}, invalid...)...)
}

// repositoriesWithActivity returns the repositories of registryHost that have
// activity rows (one query for the registry), so that list tasks can mark the others
// new (see [store.ListTask.RepositoryNew]); nil, every repository then read as
// usual, when the query fails: the mark only saves reads.
func (p *Pipeline) repositoriesWithActivity(ctx context.Context, log *slog.Logger, registryHost string) map[string]bool {
	known, err := p.repositories.RepositoriesWithActivity(ctx, registryHost)
	if err != nil {
		log.Warn("reading which repositories have activity failed; every listing reads its activity", "registry", registryHost, "error", err)
		return nil
	}
	return known
}

// minListTasks is how many list tasks the sweep spreads a registry's repositories
// over before it puts more than one in a task: as many as the host runs at once
// (--parallel, and a few instances' batches), so batching never idles it.
const minListTasks = 32

// listTaskSize is how many repositories of n go in one list task: 1 up to
// minListTasks repositories, then as many as keep minListTasks tasks, at most
// [store.MaxListRepositories]. Batching amortises a message's queue, invocation and
// run-row transactions over its repositories.
func listTaskSize(n int) int {
	return min(max(1, (n+minListTasks-1)/minListTasks), store.MaxListRepositories)
}

// sendListTasks enqueues list tasks for repos (batched, see listTaskSize; a batch of
// one is the single-repository form), up to maxConcurrentSends at once, and returns
// how many repositories it enqueued. A repository whose name a list task cannot carry
// is left out and fails the sweep after the others were enqueued.
func (p *Pipeline) sendListTasks(ctx context.Context, registryHost, runID string, repos []store.ListRepository) (int, error) {
	n, invalid, err := p.sendListTaskBatches(ctx, registryHost, runID, repos)
	return n, errors.Join(append([]error{err}, invalid...)...)
}

// sendListTaskBatches is sendListTasks with the repositories left out (invalid, one
// error each) apart from the failure to send (err), which the paged sweep stops at.
func (p *Pipeline) sendListTaskBatches(ctx context.Context, registryHost, runID string, repos []store.ListRepository) (n int, invalid []error, err error) {
	window := store.Window{PushDays: p.cfg.PushDays, PullDays: p.cfg.PullDays}
	valid := make([]store.ListRepository, 0, len(repos))
	for _, r := range repos {
		one := store.ListTask{Registry: registryHost, Repository: r.Name, RepositoryUpdatedAt: r.UpdatedAt, RunID: runID, Window: window}
		if _, err := store.EncodeListTask(one); err != nil {
			invalid = append(invalid, fmt.Errorf("enqueueing list task for %s/%s: %w", registryHost, r.Name, err))
			continue
		}
		valid = append(valid, r)
	}
	batches, err := listTaskBatches(registryHost, runID, window, valid)
	if err != nil {
		return 0, invalid, err
	}
	var sent atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxConcurrentSends)
	for _, b := range batches {
		g.Go(func() error {
			if err := p.listTasks.Send(gctx, b.msg); err != nil {
				return fmt.Errorf("enqueueing list task for %s: %w", registryHost, err)
			}
			sent.Add(int64(b.n))
			return nil
		})
	}
	err = g.Wait()
	return int(sent.Load()), invalid, err
}

// listTaskBatch is one encoded list task and how many repositories it carries.
type listTaskBatch struct {
	msg []byte
	n   int
}

// listTaskBatches encodes repos as list tasks of listTaskSize(len(repos)) each.
func listTaskBatches(registryHost, runID string, window store.Window, repos []store.ListRepository) ([]listTaskBatch, error) {
	size := listTaskSize(len(repos))
	var batches []listTaskBatch
	for start := 0; start < len(repos); start += size {
		part := repos[start:min(start+size, len(repos))]
		task := store.ListTask{Registry: registryHost, RunID: runID, Window: window}
		if len(part) == 1 {
			task.Repository, task.RepositoryUpdatedAt, task.RepositoryNew = part[0].Name, part[0].UpdatedAt, part[0].New
		} else {
			task.Repositories = part
		}
		msg, err := store.EncodeListTask(task)
		if err != nil {
			return nil, fmt.Errorf("enqueueing list tasks for %s: %w", registryHost, err)
		}
		batches = append(batches, listTaskBatch{msg, len(part)})
	}
	return batches, nil
}
