package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Tag is one tag of a repository with its history: a row of the tags table
// (PartitionKey "registry/repository", RowKey the tag). A deleted tag keeps its row,
// marked Deleted, so the digest it last named can be resolved as deleted. Package
// lifecycle decides how rows change; store keeps them.
type Tag struct {
	Registry   string
	Repository string
	Name       string
	// Digest is what the tag points at now (or pointed at when it was deleted).
	Digest string
	// ChangedAt is when the tag was first seen at Digest.
	ChangedAt time.Time
	// History lists the digests the tag pointed at before, oldest first, each with
	// the time the tag was seen to leave it. Stored as "digest@time" comma list.
	History []TagMove
	// Deleted is true when the registry no longer lists the tag; DeletedAt says since when.
	Deleted   bool
	DeletedAt time.Time
	// ETag is the entity version this Tag was read at; [Store.PutTags] writes only if
	// the row is still at that version ("" means the row must not exist yet).
	ETag string
}

// TagMove is one previous digest of a tag.
type TagMove struct {
	Digest string
	// Until is when the tag was seen pointing elsewhere.
	Until time.Time
}

func (t Tag) entity() entity {
	e := newEntity(repoKey(t.Registry, t.Repository), EscapeKey(t.Name))
	e.setString("Registry", t.Registry)
	e.setString("Repository", t.Repository)
	e.setString("Digest", t.Digest)
	e.setTime("ChangedAt", t.ChangedAt)
	moves := make([]string, 0, len(t.History))
	for _, m := range t.History {
		moves = append(moves, m.Digest+"@"+m.Until.UTC().Format(time.RFC3339Nano))
	}
	e.setString("History", strings.Join(moves, ","))
	e.setBool("Deleted", t.Deleted)
	e.setTime("DeletedAt", t.DeletedAt)
	return e
}

func tagFromRow(r row) (Tag, error) {
	name, err := UnescapeKey(r.rowKey())
	if err != nil {
		return Tag{}, err
	}
	t := Tag{
		Registry:   r.str("Registry"),
		Repository: r.str("Repository"),
		Name:       name,
		Digest:     r.str("Digest"),
		ChangedAt:  r.time("ChangedAt"),
		Deleted:    r.bool("Deleted"),
		DeletedAt:  r.time("DeletedAt"),
		ETag:       r.etag,
	}
	for _, m := range splitList(r.str("History")) {
		digest, at, ok := strings.Cut(m, "@")
		until, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil {
			return Tag{}, fmt.Errorf("tag %s: malformed History entry %q", name, m)
		}
		t.History = append(t.History, TagMove{Digest: digest, Until: until.UTC()})
	}
	return t, nil
}

// GetTag reads one tag with its ETag; ErrNotFound when absent.
func (s *Store) GetTag(ctx context.Context, registry, repository, tag string) (Tag, error) {
	r, err := getRow(ctx, s.tags, repoKey(registry, repository), EscapeKey(tag))
	if err != nil {
		return Tag{}, fmt.Errorf("reading tag %s/%s:%s: %w", registry, repository, tag, err)
	}
	return tagFromRow(r)
}

// ListTags returns every tag row of one repository, deleted ones included: one
// query of the partition.
func (s *Store) ListTags(ctx context.Context, registry, repository string) ([]Tag, error) {
	rows, err := listRows(ctx, s.tags, "PartitionKey eq "+odataQuote(repoKey(registry, repository)), "")
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s/%s: %w", registry, repository, err)
	}
	tags := make([]Tag, 0, len(rows))
	for _, r := range rows {
		t, err := tagFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("listing tags of %s/%s: %w", registry, repository, err)
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// PutTags writes tag rows of one repository in transactions of at most 100, each
// only if its row is still at the Tag's ETag (an empty ETag: only if it does not
// exist yet). A row changed meanwhile fails its transaction with ErrConflict; the
// caller re-reads and retries (earlier transactions stay written, and are what the
// re-read sees).
func (s *Store) PutTags(ctx context.Context, registry, repository string, tags []Tag) error {
	actions := make([]tableAction, 0, len(tags))
	for _, t := range tags {
		t.Registry, t.Repository = registry, repository
		a := tableAction{entity: t.entity(), action: aztables.TransactionTypeAdd}
		if t.ETag != "" {
			a.action, a.etag = aztables.TransactionTypeUpdateReplace, t.ETag
		}
		actions = append(actions, a)
	}
	if err := submitActions(ctx, s.tags, actions); err != nil {
		return fmt.Errorf("writing %d tags of %s/%s: %w", len(tags), registry, repository, err)
	}
	return nil
}
