package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/store"
)

// activitySourceTags marks pushes observed by diffing tags against the tags table.
const activitySourceTags = "tags"

// ListRepo handles one list task: for each repository it names (one, or up to
// [store.MaxListRepositories] batched by the sweep, listed up to
// maxConcurrentListings at once) it lists every tag (for ACR, with every manifest's
// push time, from one paged _manifests listing), reconciles the stored tag view with
// the listing (a new or moved tag is a push observed now, a tag no longer listed is
// deleted), resolves the findings of digests no tag references any more, untracks
// (or retracks) digests that left (or came back into) the activity windows, then
// enqueues the digests that are due, deduped per digest per day: a scan task carrying
// them (see scanBatches) and a rematch task per digest due only a rematch. Every
// write is repeatable, and push activity is recorded before the tag rows that would
// hide the push from a retry. A repository that fails transiently fails the message
// (the redelivery lists every repository again, cheaply: what was written is seen as
// done); one that fails permanently is recorded and the others' work kept.
func (p *Pipeline) ListRepo(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	text, err := inv.QueueMessage(host.QueueBinding)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncListRepo, text, err)
	}
	task, err := store.DecodeListTask(text)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncListRepo, text, err)
	}
	log = log.With("registry", task.Registry, "runId", task.RunID)
	if task.Repository != "" {
		log = log.With("repository", task.Repository)
	}
	c, err := p.registry(task.Registry)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncListRepo, text, err)
	}
	now := p.now().UTC()
	d, err := p.listRepos(ctx, log, c, task, invocationKey(inv), now)
	if err != nil {
		var fd store.RunDelta
		fd, err = p.failure(ctx, log, inv, p.listTasks, text, err, nil)
		fd.Manifests, fd.Enqueued = d.Manifests, d.Enqueued // what it did before failing
		d = fd
	}
	return p.finish(ctx, log, inv, task.RunID, now, d, err)
}

// maxConcurrentListings bounds the repositories one list task lists at once.
const maxConcurrentListings = 4

// listRepos lists each repository of task (see [Pipeline.listRepo]) and sums what
// they counted. A task of several repositories lists them (up to
// maxConcurrentListings at once), then sends the digests due in all of them as few
// scan tasks as fit (see scanBatches: 32 repositories of 10 digests are 7 messages,
// not 32), then claims each repository's. The error is the transient failures joined
// when there is one (the message is retried whole), else the permanent ones joined.
func (p *Pipeline) listRepos(ctx context.Context, log *slog.Logger, c tagSource, task store.ListTask, claimant string, now time.Time) (store.RunDelta, error) {
	if len(task.Repositories) == 0 {
		return p.listRepo(ctx, log, c, task, claimant, now)
	}
	all := make([]*listing, 0, len(task.Repositories))
	earlier := p.earlierDelivery(task.RunID, claimant, now)
	for _, one := range task.Each() {
		all = append(all, &listing{task: one, log: log.With("repository", one.Repository), earlier: earlier})
	}
	listed := eachListing(all, func(l *listing) error { return p.prepareListing(ctx, l, c, claimant, now) })
	if err := p.sendDue(ctx, task.Registry, task.RunID, listed); err != nil {
		for _, l := range listed {
			l.err = err
		}
		listed = nil
	}
	eachListing(listed, func(l *listing) error { return p.claimListed(ctx, l, claimant, now) })
	var (
		d                    store.RunDelta
		transient, permanent []error
	)
	for _, l := range all {
		d.Manifests += l.d.Manifests
		d.Enqueued += l.d.Enqueued
		d.RematchEnqueued += l.d.RematchEnqueued
		if l.err == nil {
			continue
		}
		err := fmt.Errorf("%s: %w", l.task.Repository, l.err)
		if isPermanent(ctx, err) {
			permanent = append(permanent, err)
		} else {
			transient = append(transient, err)
		}
	}
	if len(transient) > 0 {
		return d, errors.Join(transient...)
	}
	return d, errors.Join(permanent...)
}

// eachListing runs step on every listing of ls, up to maxConcurrentListings at once,
// records in each the error its step returned, and returns those whose step
// succeeded, in order.
func eachListing(ls []*listing, step func(*listing) error) []*listing {
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxConcurrentListings)
	for _, l := range ls {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			l.err = step(l)
		}()
	}
	wg.Wait()
	var ok []*listing
	for _, l := range ls {
		if l.err == nil {
			ok = append(ok, l)
		}
	}
	return ok
}

// listing is one repository's list work, carried from what its reads and writes
// decided is due ([Pipeline.prepareListing]) to the sends ([Pipeline.sendDue]) and
// the claims ([Pipeline.claimListed]); d is what it counted, err what failed it.
type listing struct {
	task     store.ListTask
	log      *slog.Logger
	acts     *repoActivity
	images   []store.Image
	byDigest map[string][]string
	due      []dueDigest
	tags     int
	earlier  *earlierDelivery
	d        store.RunDelta
	err      error
}

// earlierDelivery tells whether an earlier delivery of a list task's message
// completed: its runs row records it finished without a failure, so every scan it
// claimed ahead was sent ([store.Activity.ClaimAhead]). It reads the row once, when
// first asked: only a redelivery (or a completion the host lost) finds claims of its
// own made ahead.
type earlierDelivery struct {
	once sync.Once
	read func(ctx context.Context) (bool, error)
	done bool
	err  error
}

func (e *earlierDelivery) completed(ctx context.Context) (bool, error) {
	e.once.Do(func() { e.done, e.err = e.read(ctx) })
	return e.done, e.err
}

// earlierDelivery is the check for the message claimant of run runID, listed now.
func (p *Pipeline) earlierDelivery(runID, claimant string, now time.Time) *earlierDelivery {
	return &earlierDelivery{read: func(ctx context.Context) (bool, error) {
		d, err := p.runs.GetInvocation(ctx, runDate(now), runOf(runID), claimant)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("reading whether an earlier delivery sent its scans: %w", err)
		}
		return !d.FinishedAt.IsZero() && d.Failure == "", nil
	}}
}

// dueDigest is a digest a listing found due, and why (see [scanDue]).
type dueDigest struct{ digest, reason string }

// listRepo does the work of one list task of one repository and returns what it
// counted, also when it fails part way. Its writes are ordered so that a failure
// between any two of them leaves a state the redelivered task completes: the push
// activity before the tag rows (a recorded tag move is no longer seen as a change),
// the scan task before the day's claim (a claimed digest is not enqueued again).
//
// Enqueued counts the scans this message claimed, on this delivery or an earlier one.
func (p *Pipeline) listRepo(ctx context.Context, log *slog.Logger, c tagSource, task store.ListTask, claimant string, now time.Time) (store.RunDelta, error) {
	l := &listing{task: task, log: log, earlier: p.earlierDelivery(task.RunID, claimant, now)}
	if err := p.prepareListing(ctx, l, c, claimant, now); err != nil {
		return l.d, err
	}
	if err := p.sendDue(ctx, task.Registry, task.RunID, []*listing{l}); err != nil {
		return l.d, err
	}
	err := p.claimListed(ctx, l, claimant, now)
	return l.d, err
}

// prepareListing lists l's repository, reconciles the stored tag view with the
// listing (a new or moved tag is a push observed now, a tag no longer listed is
// deleted), resolves the findings of digests no tag references any more, untracks
// (or retracks) digests that left (or came back into) the activity windows, and
// finds the digests that are due (l.due), counting those claimed already by an
// earlier delivery of this message.
//
// A repository the sweep listed as new that has activity rows after all (a racing
// event or pull) is found by its first activity write conflicting, and reconciled
// again as a known one, from the same listing.
func (p *Pipeline) prepareListing(ctx context.Context, l *listing, c tagSource, claimant string, now time.Time) error {
	listed, err := p.listTags(ctx, c, l.task)
	if err != nil {
		return err
	}
	err = p.reconcileListing(ctx, l, listed, claimant, now)
	if errors.Is(err, errNotNew) {
		l.log.Info("repository listed as new has activity rows; reading them", "error", err)
		l.task.RepositoryNew = false
		*l = listing{task: l.task, log: l.log, earlier: l.earlier}
		err = p.reconcileListing(ctx, l, listed, claimant, now)
	}
	return err
}

// reconcileListing is prepareListing's work after the registry listing.
func (p *Pipeline) reconcileListing(ctx context.Context, l *listing, listed tagListing, claimant string, now time.Time) error {
	task := l.task
	l.tags = len(listed.tags)
	acts, err := p.readActivity(ctx, task)
	if err != nil {
		return err
	}
	l.acts = acts
	// Every digest a listing or an event saw has an activity row written before any
	// tag row or scan (so before any images row): a repository without one is new, and
	// its tags and images partitions are not read (nor, when the sweep found it so,
	// its activity partition). Should rows exist after all (written by hand), the tag
	// write conflicts and reconcileTags reads both.
	known := len(acts.rows) > 0
	covered, err := p.recordRegistryPushes(ctx, l.log, task, listed, acts, now)
	if err != nil {
		return err
	}
	var images []store.Image
	if known {
		if images, err = p.images.ListImages(ctx, task.Registry, task.Repository); err != nil {
			return err
		}
	}
	view, images, err := p.reconcileTags(ctx, l.log, task, listed.tags, covered, acts, known, images, claimant, now)
	if err != nil {
		return err
	}
	l.images = images
	if err := p.imageColumns.SetImageTags(ctx, task.Registry, task.Repository, imageTags(images, view)); err != nil {
		return err
	}
	l.byDigest = lifecycle.TagsByDigest(view)
	l.d.Manifests = len(l.byDigest)
	if err := p.applyWindows(ctx, l.log, task, l.byDigest, images, acts, now); err != nil {
		return err
	}
	for _, digest := range sortedKeys(l.byDigest) {
		reason, isDue, mine := p.dueForScan(acts, task, digest, imagesOf(images, digest), claimant, now)
		if mine && isDue && !acts.claimedAhead[digest] {
			// Claimed ahead by an earlier delivery of this message: sent, unless that
			// delivery failed before its sends.
			sent, err := l.earlier.completed(ctx)
			if err != nil {
				return err
			}
			isDue = !sent
		}
		if mine && !isDue {
			// Claimed (so sent) by an earlier delivery of this message; counted as what
			// the rows allow now. One claimed ahead with its push is due (sent, again)
			// and counted by its claim (claimListed).
			countEnqueued(&l.d, inventoriesCurrent(imagesOf(images, digest)))
		}
		if isDue {
			l.due = append(l.due, dueDigest{digest, reason})
		}
	}
	return nil
}

// reconcileTags applies a full listing to the repository's tag view (one read of the
// tags partition, none when known is false: a repository without activity rows has
// no tag rows either) and brings the findings in line with it, in an order a retry
// can repeat: push activity first (one batch per 100 digests); then findings (digests
// tagged again are reactivated, digests no tag references any more resolved, see
// lifecycle); then the changed tag rows in batches. A lister racing on the same rows
// makes the write a conflict; the view (and, if they were not read, the images rows)
// is then read again. It returns the view after the listing and the images rows. A
// new or moved tag records a push observed now, except for digests in covered, whose
// push time the registry reported (recordRegistryPushes); those outside the activity
// windows (covered false) are not reactivated either. A push that makes its digest
// due claims the day's scan for claimant in the same write (claimed ahead, see
// [store.Activity.ClaimAhead]), so a first listing writes each digest's row once; the
// scan is sent after the tag rows, and a redelivery sends it again unless an earlier
// delivery completed (see earlierDelivery).
func (p *Pipeline) reconcileTags(ctx context.Context, log *slog.Logger, task store.ListTask, listing map[string]string, covered map[string]bool,
	acts *repoActivity, known bool, images []store.Image, claimant string, now time.Time) ([]store.Tag, []store.Image, error) {
	for attempt := 1; ; attempt++ {
		var stored []store.Tag
		if known {
			var err error
			if stored, err = p.tags.ListTags(ctx, task.Registry, task.Repository); err != nil {
				return nil, nil, err
			}
		}
		changes := lifecycle.ReconcileTags(stored, listing, now)
		var retrack, observed []string
		for _, digest := range changes.Pushed {
			if tracked, ok := covered[digest]; ok {
				if tracked {
					retrack = append(retrack, digest)
				}
				continue
			}
			retrack = append(retrack, digest)
			observed = append(observed, digest)
		}
		err := acts.update(ctx, p.activity, observed, func(prev store.Activity, exists bool) (store.Activity, bool) {
			push := store.Activity{Registry: task.Registry, Repository: task.Repository, Digest: prev.Digest,
				LastPushedAt: now, Source: activitySourceTags, PushSource: activitySourceTags}
			var stored *store.Activity
			if exists {
				stored = &prev
			}
			next := store.MergeActivity(stored, push, 0)
			if _, due, mine := scanDue(next, task.Window, imagesOf(images, prev.Digest), p.currentGeneration(), claimant, now); due && !mine && claimant != "" {
				next, _ = next.ClaimAhead(now, claimant)
				if acts.claimedAhead == nil {
					acts.claimedAhead = map[string]bool{}
				}
				acts.claimedAhead[prev.Digest] = true
			}
			return next, true
		})
		if err != nil {
			return nil, nil, fmt.Errorf("recording pushes: %w", err)
		}
		for _, digest := range observed {
			log.Info("observed push", "digest", digest)
		}
		if err := p.findings().Retrack(ctx, task.Registry, task.Repository, retrack, images); err != nil {
			return nil, nil, fmt.Errorf("reactivating findings of digests tagged again: %w", err)
		}
		if err := p.findings().Reconcile(ctx, task.Registry, task.Repository, changes.View, images, now); err != nil {
			return nil, nil, fmt.Errorf("resolving findings of untagged digests: %w", err)
		}
		err = p.tags.PutTags(ctx, task.Registry, task.Repository, changes.Rows)
		if err == nil {
			return changes.View, images, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == maxTagWriteAttempts {
			return nil, nil, err
		}
		if !known {
			// Tag rows without activity rows: read what was skipped.
			known = true
			if images, err = p.images.ListImages(ctx, task.Registry, task.Repository); err != nil {
				return nil, nil, err
			}
		}
	}
}

// maxTagWriteAttempts bounds re-reads of the tag view when concurrent listers of one
// repository collide; more collisions than this go back to the queue.
const maxTagWriteAttempts = 3
