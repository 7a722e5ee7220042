package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// activitySourceTags marks pushes observed by diffing tags against the tags table.
const activitySourceTags = "tags"

// rescanAfter is how old a scan may get before an image in the window is due again.
const rescanAfter = 24 * time.Hour

// ListRepo handles one list task: it lists every tag of the repository (for ACR,
// with every manifest's push time, from one paged _manifests listing), reconciles
// the stored tag view with the listing (a new or moved tag is a push observed now, a
// tag no longer listed is deleted), resolves the findings of digests no tag
// references any more, untracks (or retracks) digests that left (or came back into)
// the activity windows, then enqueues one scan task per digest that is due, deduped
// per digest per day. Every write is repeatable, and push activity is recorded before
// the tag rows that would hide the push from a retry.
func (p *Pipeline) ListRepo(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	text, err := inv.QueueMessage(host.QueueBinding)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncListRepo, text, err)
	}
	task, err := store.DecodeListTask(text)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncListRepo, text, err)
	}
	log = log.With("registry", task.Registry, "repository", task.Repository, "runId", task.RunID)
	c, err := p.registry(task.Registry)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncListRepo, text, err)
	}
	now := p.now().UTC()
	d, err := p.listRepo(ctx, log, c, task, invocationKey(inv), now)
	if err != nil {
		var fd store.RunDelta
		fd, err = p.failure(ctx, log, inv, p.listTasks, text, err, nil)
		fd.Manifests, fd.Enqueued = d.Manifests, d.Enqueued // what it did before failing
		d = fd
	}
	return p.finish(ctx, log, inv, task.RunID, now, d, err)
}

// listRepo does the work of one list task and returns what it counted, also when it
// fails part way. Its writes are ordered so that a failure between any two of them
// leaves a state the redelivered task completes: the push activity before the tag rows
// (a recorded tag move is no longer seen as a change), the scan task before the day's
// claim (a claimed digest is not enqueued again).
//
// Enqueued counts the scans this message claimed, on this delivery or an earlier one.
func (p *Pipeline) listRepo(ctx context.Context, log *slog.Logger, c tagSource, task store.ListTask, claimant string, now time.Time) (store.RunDelta, error) {
	var d store.RunDelta
	listed, err := p.listTags(ctx, c, task)
	if err != nil {
		return d, err
	}
	covered, err := p.recordRegistryPushes(ctx, log, task, listed, now)
	if err != nil {
		return d, err
	}
	images, err := p.images.ListImages(ctx, task.Registry, task.Repository)
	if err != nil {
		return d, err
	}
	view, err := p.reconcileTags(ctx, log, task, listed.tags, covered, images, now)
	if err != nil {
		return d, err
	}
	if err := p.imageColumns.SetImageTags(ctx, task.Registry, task.Repository, imageTags(images, view)); err != nil {
		return d, err
	}
	byDigest := lifecycle.TagsByDigest(view)
	d.Manifests = len(byDigest)
	if err := p.applyWindows(ctx, log, task, byDigest, images, now); err != nil {
		return d, err
	}
	for _, digest := range sortedKeys(byDigest) {
		reason, due, mine, err := p.dueForScan(ctx, task, digest, imagesOf(images, digest), claimant, now)
		if err != nil {
			return d, err
		}
		rematch := reason == reasonRematch
		if mine {
			// Claimed (so sent) by an earlier delivery of this message; counted as what
			// the rows allow now.
			countEnqueued(&d, inventoriesCurrent(imagesOf(images, digest)))
		}
		if !due {
			continue
		}
		// Send before claiming: a failed send leaves the day unclaimed, so the retried
		// list task sends again (nothing lost); two racing listers may both send, which
		// the idempotent scan and rematch absorb.
		if err := p.sendDue(ctx, task, digest, byDigest[digest], reason); err != nil {
			return d, err
		}
		claimed, err := p.activity.ClaimScanAs(ctx, task.Registry, task.Repository, digest, now, claimant)
		if err != nil {
			return d, fmt.Errorf("claiming scan of %s: %w", digest, err)
		}
		if claimed {
			countEnqueued(&d, rematch)
		}
	}
	if err := p.recordListed(ctx, task, now); err != nil {
		return d, err
	}
	log.Info("listed repository", "tags", len(listed.tags), "digests", len(byDigest), "enqueued", d.Enqueued, "rematchEnqueued", d.RematchEnqueued)
	return d, nil
}

// sendDue sends what a due digest needs: a rematch task scoped to it when only its
// age or generation made it due and every row has a current inventory
// ([reasonRematch]), else a scan task.
func (p *Pipeline) sendDue(ctx context.Context, task store.ListTask, digest string, tags []string, reason string) error {
	if reason == reasonRematch {
		msg, err := store.EncodeRematchTask(store.RematchTask{Generation: cmp.Or(p.currentGeneration(), "current"), RunID: task.RunID,
			Scope: &store.RematchScope{Registry: task.Registry, Repository: task.Repository, Digest: digest}})
		if err == nil {
			err = p.rematchTasks.Send(ctx, msg)
		}
		if err != nil {
			return fmt.Errorf("enqueueing rematch of %s: %w", digest, err)
		}
		return nil
	}
	msg, err := store.EncodeScanTask(store.ScanTask{Registry: task.Registry, Repository: task.Repository, Digest: digest,
		Tags: tags, Reason: reason, RunID: task.RunID})
	if err == nil {
		err = p.scanTasks.Send(ctx, msg)
	}
	if err != nil {
		return fmt.Errorf("enqueueing scan of %s: %w", digest, err)
	}
	return nil
}

// countEnqueued counts one claimed digest: a rematch task or a scan task.
func countEnqueued(d *store.RunDelta, rematch bool) {
	if rematch {
		d.RematchEnqueued++
	} else {
		d.Enqueued++
	}
}

// reconcileTags applies a full listing to the repository's tag view (one read of the
// tags partition) and brings the findings in line with it, in an order a retry can
// repeat: push activity first; then findings (digests tagged again are reactivated,
// digests no tag references any more resolved, see lifecycle); then the changed tag
// rows in batches. A lister racing on the same rows makes the write a conflict; the
// view is then read again. It returns the view after the listing. A new or moved tag
// records a push observed now, except for digests in covered, whose push time the
// registry reported (recordRegistryPushes); those outside the activity windows
// (covered false) are not reactivated either.
func (p *Pipeline) reconcileTags(ctx context.Context, log *slog.Logger, task store.ListTask, listing map[string]string, covered map[string]bool, images []store.Image, now time.Time) ([]store.Tag, error) {
	for attempt := 1; ; attempt++ {
		stored, err := p.tags.ListTags(ctx, task.Registry, task.Repository)
		if err != nil {
			return nil, err
		}
		changes := lifecycle.ReconcileTags(stored, listing, now)
		var retrack []string
		for _, digest := range changes.Pushed {
			if tracked, ok := covered[digest]; ok {
				if tracked {
					retrack = append(retrack, digest)
				}
				continue
			}
			retrack = append(retrack, digest)
			push := store.Activity{Registry: task.Registry, Repository: task.Repository, Digest: digest,
				LastPushedAt: now, Source: activitySourceTags, PushSource: activitySourceTags}
			if err := p.activity.RecordActivity(ctx, push, 0); err != nil {
				return nil, fmt.Errorf("recording push of %s: %w", digest, err)
			}
			log.Info("observed push", "digest", digest)
		}
		if err := p.findings().Retrack(ctx, task.Registry, task.Repository, retrack, images); err != nil {
			return nil, fmt.Errorf("reactivating findings of digests tagged again: %w", err)
		}
		if err := p.findings().Reconcile(ctx, task.Registry, task.Repository, changes.View, images, now); err != nil {
			return nil, fmt.Errorf("resolving findings of untagged digests: %w", err)
		}
		err = p.tags.PutTags(ctx, task.Registry, task.Repository, changes.Rows)
		if err == nil {
			return changes.View, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == maxTagWriteAttempts {
			return nil, err
		}
	}
}

// maxTagWriteAttempts bounds re-reads of the tag view when concurrent listers of one
// repository collide; more collisions than this go back to the queue.
const maxTagWriteAttempts = 3

// dueForScan decides whether digest needs a scan now, and why (see [scanDue]), from
// its activity row; a digest without one has no activity and is not due. images are
// its rows. mine reports that claimant already claimed (and so enqueued) it today.
func (p *Pipeline) dueForScan(ctx context.Context, task store.ListTask, digest string, images []store.Image, claimant string, now time.Time) (reason string, due, mine bool, err error) {
	act, err := p.activity.GetActivity(ctx, task.Registry, task.Repository, digest)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, fmt.Errorf("reading activity of %s: %w", digest, err)
	}
	reason, due, mine = scanDue(act, task.Window, images, p.currentGeneration(), claimant, now)
	return reason, due, mine, nil
}

// reasonRematch is scanDue's reason for a digest that only needs its stored
// inventories matched again (a rematch task, not a scan).
const reasonRematch = "rematch"

// scanDue is the rule: a digest not claimed today is due when it is in the push or
// pull window and never scanned, not settled (scanned, incomplete or unsupported),
// failed since its last good scan, matched more than a day ago, or matched with an
// advisory generation other than generation ("" before the first load: not judged).
// The reason is "push", "pull" (never scanned), "rescan", or [reasonRematch] when only
// age or generation made it due and every row has an inventory stored by the current
// analyzer version: it is re-matched, never pulled again. mine reports that the day's
// claim is claimant's own.
func scanDue(act store.Activity, window store.Window, images []store.Image, generation, claimant string, now time.Time) (reason string, due, mine bool) {
	if act.ScanClaimedOn == now.UTC().Format(time.DateOnly) {
		return "", false, claimant != "" && act.ScanClaimedBy == claimant // already enqueued today
	}
	pushed := !act.LastPushedAt.IsZero() && now.Sub(act.LastPushedAt) <= days(window.PushDays)
	pulled := !act.LastPulledAt.IsZero() && now.Sub(act.LastPulledAt) <= days(window.PullDays)
	if !pushed && !pulled {
		return "", false, false
	}
	reason = "push"
	if !pushed {
		reason = "pull"
	}
	if len(images) == 0 {
		return reason, true, false
	}
	stale := false
	for _, img := range images {
		switch img.Status {
		case scanner.StatusScanned, scanner.StatusIncomplete, scanner.StatusUnsupported:
		default:
			return "rescan", true, false
		}
		if img.LastErrorAt.After(img.LastScannedAt) {
			return "rescan", true, false
		}
		matched := img.LastScannedAt
		if img.LastMatchedAt.After(matched) {
			matched = img.LastMatchedAt
		}
		if now.Sub(matched) > rescanAfter || (generation != "" && img.Generation != generation) {
			stale = true
		}
	}
	switch {
	case !stale:
		return "", false, false
	case inventoriesCurrent(images):
		return reasonRematch, true, false
	}
	return "rescan", true, false
}

// inventoriesCurrent reports whether every row of a digest can be re-matched from
// its stored inventory (see inventoryCurrent).
func inventoriesCurrent(images []store.Image) bool {
	for _, img := range images {
		if !inventoryCurrent(img) {
			return false
		}
	}
	return len(images) > 0
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
