package store

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// repositoryRowKey keyed a repository's own row in its digests' partition (an
// earlier layout); ListActivity still skips rows under it.
const repositoryRowKey = "repository"

// RepositoryActivity is what a sweep remembers of a repository as a whole: the
// registry's own last-update time (ACR's lastUpdateTime) that its last completed
// listing saw, and when that listing ran. It is the activity table's row with
// PartitionKey the registry and RowKey the repository, so that one partition query
// reads a whole registry's (ListRepositoryActivity): a digest row's PartitionKey is
// "registry/repository" (with the '/' escaped), which a host cannot be.
type RepositoryActivity struct {
	Registry       string
	Repository     string
	LastUpdateTime time.Time
	ListedAt       time.Time
	// Source names where LastUpdateTime came from ("acr").
	Source string
}

func (a RepositoryActivity) entity() entity {
	e := newEntity(EscapeKey(a.Registry), EscapeKey(a.Repository))
	e.setString("Registry", a.Registry)
	e.setString("Repository", a.Repository)
	e.setTime("LastUpdateTime", a.LastUpdateTime)
	e.setTime("ListedAt", a.ListedAt)
	e.setString("Source", a.Source)
	return e
}

// GetRepositoryActivity reads a repository's row; ErrNotFound when it was never
// listed with a last-update time.
func (s *Store) GetRepositoryActivity(ctx context.Context, registry, repository string) (RepositoryActivity, error) {
	r, err := getRow(ctx, s.activity, EscapeKey(registry), EscapeKey(repository))
	if err != nil {
		return RepositoryActivity{}, fmt.Errorf("reading repository activity %s/%s: %w", registry, repository, err)
	}
	return repositoryActivityFromRow(r), nil
}

// ListRepositoryActivity reads the rows of every repository of registry that was
// listed with a last-update time: one partition query (a transaction per 1,000).
func (s *Store) ListRepositoryActivity(ctx context.Context, registry string) ([]RepositoryActivity, error) {
	rows, err := listRows(ctx, s.activity, "PartitionKey eq "+odataQuote(EscapeKey(registry)), "")
	if err != nil {
		return nil, fmt.Errorf("listing repository activity of %s: %w", registry, err)
	}
	out := make([]RepositoryActivity, 0, len(rows))
	for _, r := range rows {
		out = append(out, repositoryActivityFromRow(r))
	}
	return out, nil
}

func repositoryActivityFromRow(r row) RepositoryActivity {
	return RepositoryActivity{
		Registry: r.str("Registry"), Repository: r.str("Repository"),
		LastUpdateTime: r.time("LastUpdateTime"), ListedAt: r.time("ListedAt"), Source: r.str("Source"),
	}
}

// RepositoriesWithActivity returns the repositories of registry that have at least
// one digest activity row, read with one query over the registry's range of
// activity partitions (the digest rows' PartitionKeys are registry "/" repository,
// escaped, so "registry%2F" opens the range and "registry%2G" ends it), selecting
// only the Repository column. The sweep marks the others new (see
// [ListTask.RepositoryNew]).
func (s *Store) RepositoriesWithActivity(ctx context.Context, registry string) (map[string]bool, error) {
	lo := repoKey(registry, "")
	hi := lo[:len(lo)-1] + string(rune(lo[len(lo)-1]+1))
	filter := "PartitionKey ge " + odataQuote(lo) + " and PartitionKey lt " + odataQuote(hi)
	rows, err := listRows(ctx, s.activity, filter, "Repository")
	if err != nil {
		return nil, fmt.Errorf("listing the repositories of %s with activity: %w", registry, err)
	}
	out := map[string]bool{}
	for _, r := range rows {
		if repo := r.str("Repository"); repo != "" {
			out[repo] = true
		}
	}
	return out, nil
}

// PutRepositoryActivity writes a repository's row whole.
func (s *Store) PutRepositoryActivity(ctx context.Context, a RepositoryActivity) error {
	if err := upsert(ctx, s.activity, a.entity(), aztables.UpdateModeReplace); err != nil {
		return fmt.Errorf("writing repository activity %s/%s: %w", a.Registry, a.Repository, err)
	}
	return nil
}
