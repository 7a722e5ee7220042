package lifecycle

import (
	"context"
	"time"

	"github.com/tidewatch/tidewatch/handler/store"
)

// Registry events change one tag or one digest at a time, and may arrive late,
// twice, or out of order: each change below is applied only when it is newer than
// what the row already says, so replaying or reordering events converges on the
// latest one, and a full listing (ReconcileTags) still has the last word.

// PushTag applies a registry's push of digest under tag at `at` to the tag view. A
// tag row changed at or after `at` is newer and wins; a tag already at digest and
// not deleted needs nothing. It returns the row to write and the view after it;
// changed is false when nothing is to be written.
func PushTag(view []store.Tag, tag, digest string, at time.Time) (row store.Tag, after []store.Tag, changed bool) {
	for i, t := range view {
		if t.Name != tag {
			continue
		}
		if !t.ChangedAt.Before(at) || (t.Deleted && !t.DeletedAt.Before(at)) || (t.Digest == digest && !t.Deleted) {
			return store.Tag{}, view, false
		}
		next := t
		if t.Digest != digest {
			next.History = appendHistory(t.History, store.TagMove{Digest: t.Digest, Until: at})
			next.Digest = digest
		}
		next.Deleted, next.DeletedAt, next.ChangedAt = false, time.Time{}, at
		after = append(append([]store.Tag(nil), view[:i]...), next)
		return next, append(after, view[i+1:]...), true
	}
	next := store.Tag{Name: tag, Digest: digest, ChangedAt: at}
	return next, append(append([]store.Tag(nil), view...), next), true
}

// DeleteDigest applies a registry's deletion of manifest digest at `at`: every tag
// still at digest and not changed after `at` is deleted (a manifest deleted by
// digest takes its tags with it). It returns the rows to write and the view after.
func DeleteDigest(view []store.Tag, digest string, at time.Time) (rows, after []store.Tag) {
	after = make([]store.Tag, 0, len(view))
	for _, t := range view {
		if t.Digest == digest && !t.Deleted && !t.ChangedAt.After(at) {
			t.Deleted, t.DeletedAt = true, at
			rows = append(rows, t)
		}
		after = append(after, t)
	}
	return rows, after
}

// DeleteTag applies a registry's deletion of tag at `at` (a tag delete, not a
// manifest delete): the tag is deleted unless it changed after `at`.
func DeleteTag(view []store.Tag, tag string, at time.Time) (rows, after []store.Tag) {
	after = make([]store.Tag, 0, len(view))
	for _, t := range view {
		if t.Name == tag && !t.Deleted && !t.ChangedAt.After(at) {
			t.Deleted, t.DeletedAt = true, at
			rows = append(rows, t)
		}
		after = append(after, t)
	}
	return rows, after
}

// ResolveDeleted resolves, [ReasonDeleted], the active findings of every platform of
// digest (its rows among images) that no current tag of view references any more,
// and sets their images rows' counts. A platform still referenced through another
// tag or index keeps its findings. Repeating it changes nothing.
func (l *Lifecycle) ResolveDeleted(ctx context.Context, registry, repository, digest string, view []store.Tag, images []store.Image, now time.Time) error {
	tracked := trackedPlatforms(images, TagsByDigest(view))
	for _, img := range platformsOf(images, digest) {
		if tracked[img.Digest] || img.Counts == (store.Counts{}) {
			continue
		}
		if err := l.resolveAll(ctx, registry, repository, img.Digest, ReasonDeleted, now); err != nil {
			return err
		}
	}
	return nil
}
