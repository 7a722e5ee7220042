package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// tagListing is a repository's tags as one listing saw them (tag → digest) and,
// from a registry that reports them (ACR), every manifest with its push time and
// platforms.
type tagListing struct {
	tags      map[string]string
	manifests []registry.ACRManifest // nil from the distribution API
}

// listTags lists task's repository: for ACR one paged _manifests call (tags, times
// and platforms together); for other registries tags/list and a HEAD per tag.
func (p *Pipeline) listTags(ctx context.Context, c tagSource, task store.ListTask) (tagListing, error) {
	if src, ok := p.acr[task.Registry]; ok {
		ms, err := src.ACRManifests(ctx, task.Repository)
		if err != nil {
			return tagListing{}, fmt.Errorf("listing manifests of %s/%s: %w", task.Registry, task.Repository, err)
		}
		l := tagListing{tags: map[string]string{}, manifests: ms}
		for _, m := range ms { // newest first: a tag ACR reported twice stays on the newest
			for _, tag := range m.Tags {
				if _, ok := l.tags[tag]; !ok {
					l.tags[tag] = m.Digest
				}
			}
		}
		return l, nil
	}
	tags, err := c.Tags(ctx, task.Repository)
	if err != nil {
		return tagListing{}, fmt.Errorf("listing tags of %s/%s: %w", task.Registry, task.Repository, err)
	}
	l := tagListing{tags: make(map[string]string, len(tags))}
	for _, tag := range tags {
		m, err := c.Resolve(ctx, task.Repository, tag)
		if err != nil {
			return tagListing{}, fmt.Errorf("resolving %s/%s:%s: %w", task.Registry, task.Repository, tag, err)
		}
		l.tags[tag] = m.Digest.String()
	}
	return l, nil
}

// recordRegistryPushes records the push time the registry reports for each manifest
// of the listing (the later of ACR's createdTime and lastUpdateTime: an import is a
// push), with Source "acr" and an index's platforms, writing only rows that change
// (in batches, see repoActivity). It returns the digests it covered, whose pushes the
// tag diff must not record again as observed now, each with whether it is in an
// activity window by now (its push times and stored pull time): one outside both is
// not reactivated by being tagged.
func (p *Pipeline) recordRegistryPushes(ctx context.Context, log *slog.Logger, task store.ListTask, l tagListing, acts *repoActivity, now time.Time) (map[string]bool, error) {
	if l.manifests == nil {
		return nil, nil
	}
	type report struct {
		pushed    time.Time
		platforms string
	}
	reported := make(map[string]report, len(l.manifests))
	digests := make([]string, 0, len(l.manifests))
	covered := make(map[string]bool, len(l.manifests))
	for _, m := range l.manifests {
		r := report{m.PushedAt().UTC(), platformList(m.References)}
		if _, dup := reported[m.Digest]; !dup {
			digests = append(digests, m.Digest)
		}
		reported[m.Digest] = r
		prev, _ := acts.get(m.Digest)
		covered[m.Digest] = inWindow(store.Activity{LastPushedAt: later(prev.LastPushedAt, r.pushed), LastPulledAt: prev.LastPulledAt}, task.Window, now)
	}
	recorded := map[string]bool{}
	err := acts.update(ctx, p.activity, digests, func(prev store.Activity, exists bool) (store.Activity, bool) {
		r := reported[prev.Digest]
		if exists && !r.pushed.After(prev.LastPushedAt) && prev.Platforms == r.platforms {
			return prev, false
		}
		obs := store.Activity{Registry: task.Registry, Repository: task.Repository, Digest: prev.Digest,
			LastPushedAt: r.pushed, Source: activitySourceACR, PushSource: activitySourceACR, Platforms: r.platforms}
		recorded[prev.Digest] = true
		if !exists {
			return store.MergeActivity(nil, obs, 0), true
		}
		return store.MergeActivity(&prev, obs, 0), true
	})
	if err != nil {
		return nil, fmt.Errorf("recording pushes: %w", err)
	}
	for _, digest := range digests {
		if !recorded[digest] {
			continue
		}
		log.Info("recorded push", "digest", digest, "pushedAt", reported[digest].pushed, "source", activitySourceACR)
	}
	return covered, nil
}

// platformList formats an index's children as the activity table's Platforms
// column: "os/architecture digest" joined by ", ".
func platformList(refs []registry.ACRPlatform) string {
	parts := make([]string, 0, len(refs))
	for _, r := range refs {
		parts = append(parts, r.OS+"/"+r.Architecture+" "+r.Digest)
	}
	return strings.Join(parts, ", ")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// inWindow reports whether act was pushed within window.PushDays or pulled within
// window.PullDays of now: whether its digest is tracked.
func inWindow(act store.Activity, window store.Window, now time.Time) bool {
	pushed := !act.LastPushedAt.IsZero() && now.Sub(act.LastPushedAt) <= days(window.PushDays)
	pulled := !act.LastPulledAt.IsZero() && now.Sub(act.LastPulledAt) <= days(window.PullDays)
	return pushed || pulled
}

// applyWindows brings the findings of the repository's tagged digests in line with
// the activity windows: a digest that left both has its findings resolved untracked
// (and its activity row marked UntrackedAt), one back in a window has them
// reactivated (and the mark cleared). Findings are written before the marks (one
// batch), so a retry repeats what a failure left half done; the tag diff never
// reactivates a digest outside the windows (reconcileTags), so a set mark means
// untracked findings.
func (p *Pipeline) applyWindows(ctx context.Context, log *slog.Logger, task store.ListTask, tagged map[string][]string, images []store.Image, acts *repoActivity, now time.Time) error {
	marks := map[string]time.Time{}
	var digests []string
	for _, act := range acts.all() {
		if _, ok := tagged[act.Digest]; !ok {
			continue
		}
		in := inWindow(act, task.Window, now)
		switch {
		case !in && act.UntrackedAt.IsZero():
			if err := p.findings().Untrack(ctx, task.Registry, task.Repository, []string{act.Digest}, images, now); err != nil {
				return fmt.Errorf("untracking findings of %s: %w", act.Digest, err)
			}
			marks[act.Digest] = now
			log.Info("digest left the activity windows", "digest", act.Digest, "lastPushedAt", act.LastPushedAt, "lastPulledAt", act.LastPulledAt)
		case in && !act.UntrackedAt.IsZero():
			if err := p.findings().Retrack(ctx, task.Registry, task.Repository, []string{act.Digest}, images); err != nil {
				return fmt.Errorf("reactivating findings of %s: %w", act.Digest, err)
			}
			marks[act.Digest] = time.Time{}
			log.Info("digest back in an activity window", "digest", act.Digest)
		default:
			continue
		}
		digests = append(digests, act.Digest)
	}
	// Like SetUntracked: only existing rows, only when the mark changes.
	err := acts.update(ctx, p.activity, digests, func(prev store.Activity, exists bool) (store.Activity, bool) {
		at := marks[prev.Digest]
		if !exists || prev.UntrackedAt.Equal(at) {
			return prev, false
		}
		prev.UntrackedAt = at
		return prev, true
	})
	if err != nil {
		return fmt.Errorf("marking untracked digests: %w", err)
	}
	return nil
}
