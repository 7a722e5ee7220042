package lifecycle

import (
	"slices"
	"time"

	"github.com/tidewatch/tidewatch/handler/store"
)

// maxTagHistory bounds how many previous digests a tag row remembers. Older moves
// were resolved when they happened; the history only has to bridge the moves between
// two listings (A→B→C with B never observed) and a few retries.
const maxTagHistory = 16

// TagChanges is what a registry listing changes in a repository's tag view.
type TagChanges struct {
	// Rows are the tag rows to write (new, moved, reappeared or deleted), each with
	// the ETag it was read at.
	Rows []store.Tag
	// Pushed are the digests a tag newly points at: pushes observed by the listing.
	Pushed []string
	// View is the whole tag view after the listing, deleted tags included.
	View []store.Tag
}

// ReconcileTags compares a repository's stored tag view with a full listing (tag →
// digest) observed at now. A listed tag not in the view is new; one at another
// digest moved (its previous digest joins History); a tag in the view but not listed
// is deleted (kept, marked Deleted). Applying the same listing to the resulting view
// changes nothing.
func ReconcileTags(view []store.Tag, listing map[string]string, now time.Time) TagChanges {
	var ch TagChanges
	pushed := map[string]bool{}
	known := make(map[string]bool, len(view))
	for _, t := range view {
		known[t.Name] = true
		digest, listed := listing[t.Name]
		next := t
		switch {
		case !listed && t.Deleted:
		case !listed:
			next.Deleted, next.DeletedAt = true, now
		case t.Deleted || t.Digest != digest:
			if t.Digest != digest {
				next.History = appendHistory(t.History, store.TagMove{Digest: t.Digest, Until: now})
				next.Digest = digest
			}
			next.Deleted, next.DeletedAt, next.ChangedAt = false, time.Time{}, now
			pushed[digest] = true
		}
		if !equalTag(next, t) {
			ch.Rows = append(ch.Rows, next)
		}
		ch.View = append(ch.View, next)
	}
	for _, name := range sortedNames(listing) {
		if known[name] {
			continue
		}
		t := store.Tag{Name: name, Digest: listing[name], ChangedAt: now}
		ch.Rows = append(ch.Rows, t)
		ch.View = append(ch.View, t)
		pushed[t.Digest] = true
	}
	ch.Pushed = sortedNames(pushed)
	return ch
}

func appendHistory(h []store.TagMove, m store.TagMove) []store.TagMove {
	h = append(slices.Clone(h), m)
	if len(h) > maxTagHistory {
		h = h[len(h)-maxTagHistory:]
	}
	return h
}

func equalTag(a, b store.Tag) bool {
	return a.Digest == b.Digest && a.Deleted == b.Deleted && a.DeletedAt.Equal(b.DeletedAt) &&
		a.ChangedAt.Equal(b.ChangedAt) && slices.Equal(a.History, b.History)
}

// TagsByDigest returns, for each digest a current (not deleted) tag points at, its
// tags sorted.
func TagsByDigest(view []store.Tag) map[string][]string {
	out := map[string][]string{}
	for _, t := range view {
		if !t.Deleted {
			out[t.Digest] = append(out[t.Digest], t.Name)
		}
	}
	for _, tags := range out {
		slices.Sort(tags)
	}
	return out
}

// release says that a digest is no longer referenced by any current tag, and what
// the tag that referenced it last did: moved to By, or was deleted.
type release struct {
	Digest string
	Tag    string
	At     time.Time
	// By is the digest the tag points at now; empty when Deleted.
	By      string
	Deleted bool
}

// releases returns, for every digest in the view's histories and deleted tags that
// no current tag points at, its release: the latest time a tag left it. A digest
// still tagged elsewhere has no release.
func releases(view []store.Tag) []release {
	current := TagsByDigest(view)
	latest := map[string]release{}
	consider := func(r release) {
		if _, tagged := current[r.Digest]; tagged {
			return
		}
		if prev, ok := latest[r.Digest]; !ok || r.At.After(prev.At) || (r.At.Equal(prev.At) && r.Tag < prev.Tag) {
			latest[r.Digest] = r
		}
	}
	for _, t := range view {
		for _, m := range t.History {
			r := release{Digest: m.Digest, Tag: t.Name, At: m.Until, By: t.Digest}
			if t.Deleted {
				r = release{Digest: m.Digest, Tag: t.Name, At: m.Until, Deleted: true}
			}
			consider(r)
		}
		if t.Deleted {
			consider(release{Digest: t.Digest, Tag: t.Name, At: t.DeletedAt, Deleted: true})
		}
	}
	out := make([]release, 0, len(latest))
	for _, d := range sortedNames(latest) {
		out = append(out, latest[d])
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
