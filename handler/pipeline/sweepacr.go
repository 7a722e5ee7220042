package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

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
// enqueued. What the completed listings saw is read once for the whole registry (one
// partition query), and the repositories' attributes are read
// cfg.RegistryConcurrency at a time: a sweep of an unchanged registry is the catalog,
// one attributes request per repository and that query. A repository whose
// attributes cannot be read is listed anyway (without a time to record, so the next
// sweep asks again); one deleted since the catalog (404) is left out. What was
// collected is enqueued also when the sweep stops part way.
func (p *Pipeline) sweepACR(ctx context.Context, log *slog.Logger, src acrListing, registryHost, runID string, now time.Time) (int, error) {
	repos, err := src.ACRRepositories(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing repositories of %s: %w", registryHost, err)
	}
	listed, err := p.repositories.ListRepositoryActivity(ctx, registryHost)
	if err != nil {
		return 0, err
	}
	seen := make(map[string]store.RepositoryActivity, len(listed))
	for _, a := range listed {
		seen[a.Repository] = a
	}
	var (
		mu        sync.Mutex
		toList    []store.ListRepository
		unchanged atomic.Int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(p.cfg.RegistryConcurrency, 1))
	for _, repo := range repos {
		if gctx.Err() != nil {
			break // a failed repository's error is g.Wait's
		}
		g.Go(func() error {
			r, list, err := p.acrRepositoryToList(gctx, log, src, seen[repo], registryHost, repo, now)
			switch {
			case err != nil:
				return err
			case list:
				mu.Lock()
				toList = append(toList, r)
				mu.Unlock()
			case r.Name != "":
				unchanged.Add(1)
			}
			return nil
		})
	}
	cause := g.Wait()
	if cause == nil {
		cause = ctx.Err()
	}
	if cause != nil {
		cause = fmt.Errorf("sweeping %s: %w", registryHost, cause)
	}
	sort.Slice(toList, func(i, j int) bool { return toList[i].Name < toList[j].Name })
	p.markNewACRRepositories(ctx, log, registryHost, toList, seen)
	sctx := ctx
	if ctx.Err() != nil {
		// The budget ran out: what was collected still goes out, with the short
		// budget a record gets after the sweep's own.
		var cancel context.CancelFunc
		sctx, cancel = recordContext(ctx)
		defer cancel()
	}
	n, err := p.sendListTasks(sctx, registryHost, runID, toList)
	log.Info("swept ACR registry", "registry", registryHost, "repositories", len(repos), "unchanged", unchanged.Load(), "enqueued", n)
	return n, errors.Join(cause, err)
}

// markNewACRRepositories marks new (see store.ListTask.RepositoryNew) the
// repositories of toList that have no activity rows. Only one without a completed
// listing (no row in seen) can be new, so the registry's activity is queried only
// when toList holds such a repository: a sweep of changed, listed repositories makes
// no query.
func (p *Pipeline) markNewACRRepositories(ctx context.Context, log *slog.Logger, registryHost string, toList []store.ListRepository, seen map[string]store.RepositoryActivity) {
	unlisted := slices.ContainsFunc(toList, func(r store.ListRepository) bool { return seen[r.Name].ListedAt.IsZero() })
	if !unlisted || ctx.Err() != nil {
		return
	}
	known := p.repositoriesWithActivity(ctx, log, registryHost)
	for i, r := range toList {
		toList[i].New = known != nil && seen[r.Name].ListedAt.IsZero() && !known[r.Name]
	}
}

// acrRepositoryToList decides whether repo is listed this sweep: list is false for
// a repository its attributes say is unchanged since seen (its last completed
// listing's row; zero: never listed), r then naming it, and for one gone since the
// catalog, r then zero. A listed repository carries the lastUpdateTime to record.
func (p *Pipeline) acrRepositoryToList(ctx context.Context, log *slog.Logger, src acrListing, seen store.RepositoryActivity, registryHost, repo string, now time.Time) (r store.ListRepository, list bool, err error) {
	r = store.ListRepository{Name: repo}
	attrs, err := src.ACRRepositoryAttributes(ctx, repo)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return r, false, fmt.Errorf("reading attributes of %s/%s: %w", registryHost, repo, err)
	case notFound(err):
		log.Info("repository gone since the catalog", "repository", repo)
		return store.ListRepository{}, false, nil
	case err != nil:
		log.Warn("reading repository attributes failed; listing it anyway", "repository", repo, "error", err)
	case unchangedSince(seen, attrs.LastUpdateTime, now):
		return r, false, nil
	default:
		r.UpdatedAt = attrs.LastUpdateTime
	}
	return r, true, nil
}

// unchangedSince reports whether a repository's last completed listing (seen; zero
// when there was none) saw lastUpdate and ran less than relistAfter ago. Times are
// compared at the table's 100 ns precision, which is ACR's too.
func unchangedSince(seen store.RepositoryActivity, lastUpdate, now time.Time) bool {
	const precision = 100 * time.Nanosecond
	return !seen.ListedAt.IsZero() && seen.LastUpdateTime.Truncate(precision).Equal(lastUpdate.Truncate(precision)) &&
		now.Sub(seen.ListedAt) < relistAfter
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
