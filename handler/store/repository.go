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

// PutRepositoryActivity writes a repository's row whole.
func (s *Store) PutRepositoryActivity(ctx context.Context, a RepositoryActivity) error {
	if err := upsert(ctx, s.activity, a.entity(), aztables.UpdateModeReplace); err != nil {
		return fmt.Errorf("writing repository activity %s/%s: %w", a.Registry, a.Repository, err)
	}
	return nil
}
