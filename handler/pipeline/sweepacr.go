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

// sweepACR enqueues list tasks (batched, see sendListTasks) for the repositories of
// an ACR registry whose lastUpdateTime moved since their last completed listing (or
// that were not listed for relistAfter), and returns how many repositories it
// enqueued. A repository whose attributes
// cannot be read is listed anyway (without a time to record, so the next sweep asks
// again); one deleted since the catalog (404) is left out.
func (p *Pipeline) sweepACR(ctx context.Context, log *slog.Logger, src acrListing, registryHost, runID string, now time.Time) (int, error) {
	repos, err := src.ACRRepositories(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing repositories of %s: %w", registryHost, err)
	}
	unchanged := 0
	var toList []store.ListRepository
	// send enqueues what was collected, also when the sweep stops part way (then
	// with the short budget a record gets after the sweep's own ran out).
	send := func(cause error) (int, error) {
		sctx := ctx
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			sctx, cancel = recordContext(ctx)
			defer cancel()
		}
		n, err := p.sendListTasks(sctx, registryHost, runID, toList)
		log.Info("swept ACR registry", "registry", registryHost, "repositories", len(repos), "unchanged", unchanged, "enqueued", n)
		return n, errors.Join(cause, err)
	}
	for _, repo := range repos {
		if err := ctx.Err(); err != nil {
			return send(fmt.Errorf("sweeping %s: %w", registryHost, err))
		}
		listed := store.ListRepository{Name: repo}
		attrs, err := src.ACRRepositoryAttributes(ctx, repo)
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return send(fmt.Errorf("reading attributes of %s/%s: %w", registryHost, repo, err))
		case notFound(err):
			log.Info("repository gone since the catalog", "repository", repo)
			continue
		case err != nil:
			log.Warn("reading repository attributes failed; listing it anyway", "repository", repo, "error", err)
		default:
			skip, err := p.unchangedSince(ctx, registryHost, repo, attrs.LastUpdateTime, now)
			if err != nil {
				return send(err)
			}
			if skip {
				unchanged++
				continue
			}
			listed.UpdatedAt = attrs.LastUpdateTime
		}
		toList = append(toList, listed)
	}
	return send(nil)
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
