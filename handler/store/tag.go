package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Tag is where a tag points and where it pointed before: a row of the tags table
// (PartitionKey "registry/repository", RowKey the tag). It drives "replaced image ⇒
// resolved" and, for generic registries, the push window.
type Tag struct {
	Registry       string
	Repository     string
	Name           string
	Digest         string
	PreviousDigest string
	ChangedAt      time.Time
	// ETag is the entity version this Tag was read at; [Store.PutTag] writes only if the
	// row is still at that version ("" means the row must not exist yet).
	ETag string
}

// TagChange is what [Store.ObserveTag] saw.
type TagChange struct {
	// New is true when the tag had never been seen.
	New bool
	// Moved is true when the tag pointed at another digest before.
	Moved bool
	// PreviousDigest is that other digest when Moved.
	PreviousDigest string
}

func (t Tag) entity() entity {
	e := newEntity(repoKey(t.Registry, t.Repository), EscapeKey(t.Name))
	e.setString("Registry", t.Registry)
	e.setString("Repository", t.Repository)
	e.setString("Digest", t.Digest)
	e.setString("PreviousDigest", t.PreviousDigest)
	e.setTime("ChangedAt", t.ChangedAt)
	return e
}

func tagFromRow(r row) (Tag, error) {
	name, err := UnescapeKey(r.rowKey())
	if err != nil {
		return Tag{}, err
	}
	return Tag{
		Registry:       r.str("Registry"),
		Repository:     r.str("Repository"),
		Name:           name,
		Digest:         r.str("Digest"),
		PreviousDigest: r.str("PreviousDigest"),
		ChangedAt:      r.time("ChangedAt"),
		ETag:           r.etag,
	}, nil
}

// GetTag reads one tag with its ETag; ErrNotFound when absent.
func (s *Store) GetTag(ctx context.Context, registry, repository, tag string) (Tag, error) {
	r, err := getRow(ctx, s.tags, repoKey(registry, repository), EscapeKey(tag))
	if err != nil {
		return Tag{}, fmt.Errorf("reading tag %s/%s:%s: %w", registry, repository, tag, err)
	}
	return tagFromRow(r)
}

// PutTag writes t only if the row is still at t.ETag (or, with an empty ETag, does
// not exist yet); otherwise it returns ErrConflict and the caller re-reads.
func (s *Store) PutTag(ctx context.Context, t Tag) error {
	if err := writeIf(ctx, s.tags, t.entity(), t.ETag, aztables.UpdateModeReplace); err != nil {
		return fmt.Errorf("writing tag %s/%s:%s: %w", t.Registry, t.Repository, t.Name, err)
	}
	return nil
}

// ListTags returns every tag of one repository.
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

// ObserveTag records that tag points at digest (seen at now) and reports whether that
// is new or a move. Concurrent observers are serialised by ETag, so each move's
// PreviousDigest is the digest it actually replaced.
func (s *Store) ObserveTag(ctx context.Context, registry, repository, tag, digest string, now time.Time) (TagChange, error) {
	for attempt := 0; attempt < maxConcurrencyAttempts; attempt++ {
		current, err := s.GetTag(ctx, registry, repository, tag)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return TagChange{}, err
		}
		if exists && current.Digest == digest {
			return TagChange{}, nil
		}
		next := Tag{Registry: registry, Repository: repository, Name: tag, Digest: digest, ChangedAt: now, ETag: current.ETag}
		change := TagChange{New: !exists}
		if exists {
			next.PreviousDigest = current.Digest
			change = TagChange{Moved: true, PreviousDigest: current.Digest}
		}
		err = s.PutTag(ctx, next)
		if err == nil {
			return change, nil
		}
		if !errors.Is(err, ErrConflict) {
			return TagChange{}, err
		}
		if err := backoff(ctx, attempt); err != nil {
			return TagChange{}, err
		}
	}
	return TagChange{}, fmt.Errorf("observing tag %s/%s:%s: %w", registry, repository, tag, ErrConflict)
}
