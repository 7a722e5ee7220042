package store

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// repositoryRowKey keys a repository's own row in the activity table, beside its
// digests' rows (a digest always has a ':', so it can never take this key).
const repositoryRowKey = "repository"

// RepositoryActivity is what a sweep remembers of a repository as a whole: the
// registry's own last-update time (ACR's lastUpdateTime) that its last completed
// listing saw, and when that listing ran. It is the activity table's row with
// PartitionKey "registry/repository" and RowKey "repository".
type RepositoryActivity struct {
	Registry       string
	Repository     string
	LastUpdateTime time.Time
	ListedAt       time.Time
	// Source names where LastUpdateTime came from ("acr").
	Source string
}

func (a RepositoryActivity) entity() entity {
	e := newEntity(repoKey(a.Registry, a.Repository), repositoryRowKey)
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
	r, err := getRow(ctx, s.activity, repoKey(registry, repository), repositoryRowKey)
	if err != nil {
		return RepositoryActivity{}, fmt.Errorf("reading repository activity %s/%s: %w", registry, repository, err)
	}
	return RepositoryActivity{
		Registry: r.str("Registry"), Repository: r.str("Repository"),
		LastUpdateTime: r.time("LastUpdateTime"), ListedAt: r.time("ListedAt"), Source: r.str("Source"),
	}, nil
}

// PutRepositoryActivity writes a repository's row whole.
func (s *Store) PutRepositoryActivity(ctx context.Context, a RepositoryActivity) error {
	if err := upsert(ctx, s.activity, a.entity(), aztables.UpdateModeReplace); err != nil {
		return fmt.Errorf("writing repository activity %s/%s: %w", a.Registry, a.Repository, err)
	}
	return nil
}
