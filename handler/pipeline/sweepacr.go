package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// relistAfter is how long a repository the registry reports unchanged may go
// without a listing. Due-ness also moves with time alone (daily rescans, a new
// advisory generation, a digest leaving its activity window): one listing a day
// catches those up, every other sweep of an unchanged repository costs one
// attributes read and one storage read, and no list task.
const relistAfter = rescanAfter

// activitySourceACR marks push times read from ACR's manifest attributes.
const activitySourceACR = "acr"

// sweepACR enqueues a list task for each repository of an ACR registry whose
// lastUpdateTime moved since its last completed listing (or that was not listed for
// relistAfter), and returns how many it enqueued. A repository whose attributes
// cannot be read is listed anyway (without a time to record, so the next sweep asks
// again); one deleted since the catalog (404) is left out.
func (p *Pipeline) sweepACR(ctx context.Context, log *slog.Logger, src acrListing, registryHost, runID string, now time.Time) (int, error) {
	repos, err := src.ACRRepositories(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing repositories of %s: %w", registryHost, err)
	}
	enqueued, unchanged := 0, 0
	for _, repo := range repos {
		if err := ctx.Err(); err != nil {
			return enqueued, fmt.Errorf("sweeping %s: %w", registryHost, err)
		}
		task := store.ListTask{Registry: registryHost, Repository: repo, RunID: runID,
			Window: store.Window{PushDays: p.cfg.PushDays, PullDays: p.cfg.PullDays}}
		attrs, err := src.ACRRepositoryAttributes(ctx, repo)
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return enqueued, fmt.Errorf("reading attributes of %s/%s: %w", registryHost, repo, err)
		case notFound(err):
			log.Info("repository gone since the catalog", "repository", repo)
			continue
		case err != nil:
			log.Warn("reading repository attributes failed; listing it anyway", "repository", repo, "error", err)
		default:
			skip, err := p.unchangedSince(ctx, registryHost, repo, attrs.LastUpdateTime, now)
			if err != nil {
				return enqueued, err
			}
			if skip {
				unchanged++
				continue
			}
			task.RepositoryUpdatedAt = attrs.LastUpdateTime
		}
		msg, err := store.EncodeListTask(task)
		if err == nil {
			err = p.listTasks.Send(ctx, msg)
		}
		if err != nil {
			return enqueued, fmt.Errorf("enqueueing list task for %s/%s: %w", registryHost, repo, err)
		}
		enqueued++
	}
	log.Info("swept ACR registry", "registry", registryHost, "repositories", len(repos), "unchanged", unchanged, "enqueued", enqueued)
	return enqueued, nil
}

// unchangedSince reports whether repo's last completed listing saw lastUpdate and
// ran less than relistAfter ago.
func (p *Pipeline) unchangedSince(ctx context.Context, registryHost, repo string, lastUpdate, now time.Time) (bool, error) {
	seen, err := p.repositories.GetRepositoryActivity(ctx, registryHost, repo)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return seen.LastUpdateTime.Equal(lastUpdate) && now.Sub(seen.ListedAt) < relistAfter, nil
}

// recordListed remembers that a listing of task's repository completed, with the
// registry's last-update time the sweep saw (nothing for registries without one).
func (p *Pipeline) recordListed(ctx context.Context, task store.ListTask, now time.Time) error {
	if task.RepositoryUpdatedAt.IsZero() {
		return nil
	}
	return p.repositories.PutRepositoryActivity(ctx, store.RepositoryActivity{Registry: task.Registry, Repository: task.Repository,
		LastUpdateTime: task.RepositoryUpdatedAt, ListedAt: now, Source: activitySourceACR})
}

// notFound reports a registry 404 (the repository does not exist).
func notFound(err error) bool {
	var re *registry.Error
	return errors.As(err, &re) && re.Status == http.StatusNotFound
}
