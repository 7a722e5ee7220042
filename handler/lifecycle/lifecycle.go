package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Store is what the lifecycle needs of the findings and images tables: the rows of
// one (repository, platform digest), written whole, and the images row's counts.
type Store interface {
	FindingsOf(ctx context.Context, registry, repository, digest string) ([]store.Finding, error)
	PutFindings(ctx context.Context, registry, repository, digest string, fs []store.Finding) error
	SetImageCounts(ctx context.Context, registry, repository, digest string, c store.Counts) error
}

var _ Store = (*store.Store)(nil)

// Lifecycle applies the rules to the rows of a [Store].
type Lifecycle struct {
	store Store
}

// New returns a Lifecycle over s.
func New(s Store) *Lifecycle { return &Lifecycle{store: s} }

// Record writes the latest result for platform digest in registry/repository: its
// findings become or stay active, every other active row resolves with absentReason
// ([ReasonRescan] for a scan, [ReasonAdvisory] for a rematch). It returns the counts
// of the active rows, which the caller writes on the images row it writes next.
func (l *Lifecycle) Record(ctx context.Context, registry, repository, digest string, result []store.Finding, absentReason string, now time.Time) (store.Counts, error) {
	existing, err := l.store.FindingsOf(ctx, registry, repository, digest)
	if err != nil {
		return store.Counts{}, fmt.Errorf("recording result of %s/%s@%s: %w", registry, repository, digest, err)
	}
	changed, after := applyResult(existing, result, absentReason, now)
	if err := l.store.PutFindings(ctx, registry, repository, digest, changed); err != nil {
		return store.Counts{}, fmt.Errorf("recording result of %s/%s@%s: %w", registry, repository, digest, err)
	}
	return countActive(after), nil
}

// Rematch writes the result of re-matching platform digest's stored inventory
// against advisory generation: findings of result become or stay active (new ones
// first seen now; severity, fix and remediation updated in place), every other active
// row resolves [ReasonAdvisory] with ResolvedByGeneration set to generation. It
// returns the counts of the active rows, for the images row the caller writes next.
// The same result again leaves the same rows (LastSeenAt aside, which is now).
func (l *Lifecycle) Rematch(ctx context.Context, registry, repository, digest string, result []store.Finding, generation string, now time.Time) (store.Counts, error) {
	existing, err := l.store.FindingsOf(ctx, registry, repository, digest)
	if err != nil {
		return store.Counts{}, fmt.Errorf("recording rematch of %s/%s@%s: %w", registry, repository, digest, err)
	}
	changed, after := applyResult(existing, result, ReasonAdvisory, now)
	for i := range changed {
		if changed[i].State == StateResolved { // only rows this result resolves are changed and resolved
			changed[i].ResolvedByGeneration = generation
		}
	}
	if err := l.store.PutFindings(ctx, registry, repository, digest, changed); err != nil {
		return store.Counts{}, fmt.Errorf("recording rematch of %s/%s@%s: %w", registry, repository, digest, err)
	}
	return countActive(after), nil
}

// resolveAll resolves every active finding of platform digest in registry/repository
// with reason (e.g. [ReasonDeleted] when its last tag was deleted) and sets the
// images row's counts. Repeating it changes nothing.
func (l *Lifecycle) resolveAll(ctx context.Context, registry, repository, digest, reason string, now time.Time) error {
	return l.resolve(ctx, registry, repository, digest, now, func(store.Finding) (string, string, bool) {
		return reason, "", true
	})
}

// Retrack is for digests a listing found tagged again (pushes observed now), or
// back in an activity window after [Lifecycle.Untrack]: the
// findings of their platforms that were resolved because the digest was no longer
// tagged ([ReasonFixed], [ReasonUntracked], [ReasonDeleted]) are active again, as in
// the digest's latest result; those a rescan or rematch resolved stay resolved. The
// images rows' counts are set whenever a platform has rows, so a retry corrects them.
func (l *Lifecycle) Retrack(ctx context.Context, registry, repository string, digests []string, images []store.Image) error {
	for _, digest := range digests {
		for _, img := range platformsOf(images, digest) {
			if err := l.retrackOne(ctx, registry, repository, img.Digest); err != nil {
				return err
			}
		}
	}
	return nil
}

// Untrack is for digests that left both activity windows (pushed longer ago than
// TIDEWATCH_PUSH_DAYS and pulled longer ago than TIDEWATCH_PULL_DAYS, or never):
// every active finding of their platforms resolves [ReasonUntracked], so the images
// rows count no active findings. [Lifecycle.Retrack] brings them back when a push or
// pull puts the digest in a window again. Repeating it changes nothing.
func (l *Lifecycle) Untrack(ctx context.Context, registry, repository string, digests []string, images []store.Image, now time.Time) error {
	for _, digest := range digests {
		for _, img := range platformsOf(images, digest) {
			if err := l.resolveAll(ctx, registry, repository, img.Digest, ReasonUntracked, now); err != nil {
				return fmt.Errorf("untracking %s: %w", digest, err)
			}
		}
	}
	return nil
}

// retrackOne reactivates the untracked findings of one platform digest (see Retrack).
func (l *Lifecycle) retrackOne(ctx context.Context, registry, repository, digest string) error {
	existing, err := l.store.FindingsOf(ctx, registry, repository, digest)
	if err != nil {
		return fmt.Errorf("reactivating findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	if len(existing) == 0 {
		return nil
	}
	changed, after := reactivateUntracked(existing)
	if err := l.store.PutFindings(ctx, registry, repository, digest, changed); err != nil {
		return fmt.Errorf("reactivating findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	if err := l.store.SetImageCounts(ctx, registry, repository, digest, countActive(after)); err != nil {
		return fmt.Errorf("reactivating findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	return nil
}

// resolve resolves the active findings of platform digest for which decide says so,
// with the reason and resolving digest it gives, and sets the images row's counts.
func (l *Lifecycle) resolve(ctx context.Context, registry, repository, digest string, now time.Time,
	decide func(store.Finding) (reason, by string, ok bool)) error {
	existing, err := l.store.FindingsOf(ctx, registry, repository, digest)
	if err != nil {
		return fmt.Errorf("resolving findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	changed, after := resolveActive(existing, decide, now)
	if err := l.store.PutFindings(ctx, registry, repository, digest, changed); err != nil {
		return fmt.Errorf("resolving findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	// Always written, even with nothing changed: a retry after a failure between the
	// two writes must still correct the counts.
	if err := l.store.SetImageCounts(ctx, registry, repository, digest, countActive(after)); err != nil {
		return fmt.Errorf("resolving findings of %s/%s@%s: %w", registry, repository, digest, err)
	}
	return nil
}

// replace resolves the active findings of platform old, no longer shipped, against
// the platform now shipped in its place: those absent from replacement's active
// findings are [ReasonFixed] by replacement.Digest, those still present
// [ReasonUntracked] (they live on in replacement's rows).
func (l *Lifecycle) replace(ctx context.Context, registry, repository string, old, replacement store.Image, now time.Time) error {
	current, err := l.store.FindingsOf(ctx, registry, repository, replacement.Digest)
	if err != nil {
		return fmt.Errorf("replacing %s by %s: %w", old.Digest, replacement.Digest, err)
	}
	still := activeKeys(current)
	return l.resolve(ctx, registry, repository, old.Digest, now, func(f store.Finding) (string, string, bool) {
		if still[f.RowKey()] {
			return ReasonUntracked, "", true
		}
		return ReasonFixed, replacement.Digest, true
	})
}

// Reconcile resolves the findings of every platform of registry/repository that no
// current tag references any more, from the repository's tag view and its images
// rows (each read once by the caller): a digest whose last tag was deleted resolves
// [ReasonDeleted]; one whose last tag moved to a digest R that has been scanned is
// replaced by R platform by platform (a platform R does not have resolves
// [ReasonUntracked]). Until R is scanned nothing is resolved: R's scan
// calls Reconcile again. Platforms still referenced through another tag, and rows
// with no active findings, are left alone, so repeating it changes nothing.
func (l *Lifecycle) Reconcile(ctx context.Context, registry, repository string, view []store.Tag, images []store.Image, now time.Time) error {
	tracked := trackedPlatforms(images, TagsByDigest(view))
	for _, r := range releases(view) {
		var old []store.Image
		for _, img := range platformsOf(images, r.Digest) {
			if !tracked[img.Digest] && img.Counts != (store.Counts{}) {
				old = append(old, img)
			}
		}
		if len(old) == 0 {
			continue
		}
		if r.Deleted {
			for _, o := range old {
				if err := l.resolveAll(ctx, registry, repository, o.Digest, ReasonDeleted, now); err != nil {
					return err
				}
			}
			continue
		}
		replacement := resultsOf(images, r.By)
		if len(replacement) == 0 {
			continue // not scanned yet
		}
		for _, o := range old {
			if err := l.replaceOne(ctx, registry, repository, o, replacement, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceOne resolves platform old against its counterpart among replacement, the
// platforms of the digest its tag moved to.
func (l *Lifecycle) replaceOne(ctx context.Context, registry, repository string, old store.Image, replacement []store.Image, now time.Time) error {
	r, ok := counterpart(old, replacement)
	switch {
	case !ok:
		return l.resolveAll(ctx, registry, repository, old.Digest, ReasonUntracked, now)
	case r.Digest == old.Digest:
		return nil
	case r.Status == scanner.StatusUnsupported:
		// Nothing was matched in the replacement: whether a finding is fixed is unknown.
		return l.resolveAll(ctx, registry, repository, old.Digest, ReasonUntracked, now)
	}
	return l.replace(ctx, registry, repository, old, r, now)
}

// counterpart finds the platform of replacement that takes old's place: the one
// with the same platform string; else, when old or the replacement is a
// single-platform image (a manifest, not an index), the replacement's only platform.
// A platform an index drops has none.
func counterpart(old store.Image, replacement []store.Image) (store.Image, bool) {
	for _, r := range replacement {
		if r.Platform == old.Platform {
			return r, true
		}
	}
	if len(replacement) == 1 && (old.IndexDigest == "" || replacement[0].IndexDigest == "") {
		return replacement[0], true
	}
	return store.Image{}, false
}

// trackedPlatforms returns the platform digests among images that a current tag
// (current: digest → tags) references, directly or through their index.
func trackedPlatforms(images []store.Image, current map[string][]string) map[string]bool {
	tracked := map[string]bool{}
	for _, img := range images {
		if _, ok := current[img.Digest]; ok {
			tracked[img.Digest] = true
		} else if _, ok := current[img.IndexDigest]; ok && img.IndexDigest != "" {
			tracked[img.Digest] = true
		}
	}
	return tracked
}

// resultsOf returns the platforms of digest that have a result to compare with:
// scanned, or unsupported (nothing matched).
func resultsOf(images []store.Image, digest string) []store.Image {
	var out []store.Image
	for _, img := range platformsOf(images, digest) {
		if img.Status == scanner.StatusScanned || img.Status == scanner.StatusUnsupported {
			out = append(out, img)
		}
	}
	return out
}

// platformsOf returns the images rows of digest: the row keyed by it and the rows of
// its platforms when it is an index.
func platformsOf(images []store.Image, digest string) []store.Image {
	var out []store.Image
	for _, img := range images {
		if img.Digest == digest || (digest != "" && img.IndexDigest == digest) {
			out = append(out, img)
		}
	}
	return out
}
