package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/regevent"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Activity sources of registry events (the activity table's Source column).
const (
	activitySourceWebhook   = "webhook"
	activitySourceEventGrid = "eventgrid"
)

// eventsRun is the run registry-event invocations are recorded under: one summary
// row per UTC day, RowKey "registry-events" (the invocation rows are
// "registry-events~<message or invocation id>").
const eventsRun = "registry-events"

// eventOutcome is what applying one event did, for the run row and the response.
type eventOutcome struct {
	// Enqueued is true when the event's scan was sent (now or by an earlier delivery
	// of the same event).
	Enqueued bool
	// Note says why nothing (more) was done: ignored, stale, not due.
	Note string
}

// applyEvent records one decoded registry event: a pull updates activity; a push
// records activity and the tag, then enqueues the digest's scan unless the day's
// claim (shared with listrepo) or a recent scan says it is not due; a delete marks
// the digest's tags deleted and resolves its findings. registry is the configured
// registry the event is for; claimant identifies the event across redeliveries.
func (p *Pipeline) applyEvent(ctx context.Context, log *slog.Logger, e regevent.Event, registry, claimant, source string, now time.Time) (eventOutcome, error) {
	e.Registry = registry
	at := e.At.UTC()
	if at.IsZero() || at.After(now) {
		at = now // a sender's clock ahead of ours must not keep an image in the window
	}
	log = log.With("registry", registry, "repository", e.Repository, "digest", e.Digest, "tag", e.Tag, "action", e.Action, "eventId", e.ID)
	switch e.Action {
	case regevent.ActionPull:
		pull := store.Activity{Registry: registry, Repository: e.Repository, Digest: e.Digest, LastPulledAt: at, Source: source}
		if err := p.activity.RecordActivity(ctx, pull, 1); err != nil {
			return eventOutcome{}, fmt.Errorf("recording pull of %s: %w", e.Ref(), err)
		}
		return eventOutcome{Note: "pull recorded"}, nil
	case regevent.ActionPush:
		return p.pushEvent(ctx, log, e, at, claimant, source, now)
	case regevent.ActionDelete:
		return p.deleteEvent(ctx, log, e, at, source, now)
	}
	return eventOutcome{Note: fmt.Sprintf("action %q is not tracked", e.Action)}, nil
}

// pushEvent records a push and enqueues its scan when due. The order is listrepo's:
// activity first, then the tag row, then send, then claim; a failure between any two
// leaves a state the redelivered event completes, and an event and a listing of the
// same push claim the same day's scan once.
func (p *Pipeline) pushEvent(ctx context.Context, log *slog.Logger, e regevent.Event, at time.Time, claimant, source string, now time.Time) (eventOutcome, error) {
	push := store.Activity{Registry: e.Registry, Repository: e.Repository, Digest: e.Digest, LastPushedAt: at, Source: source}
	if err := p.activity.RecordActivity(ctx, push, 0); err != nil {
		return eventOutcome{}, fmt.Errorf("recording push of %s: %w", e.Ref(), err)
	}
	act, err := p.activity.GetActivity(ctx, e.Registry, e.Repository, e.Digest)
	if err != nil {
		return eventOutcome{}, fmt.Errorf("reading activity of %s: %w", e.Ref(), err)
	}
	if !act.LastDeletedAt.IsZero() && !at.After(act.LastDeletedAt) {
		log.Info("push event older than the digest's deletion; not scanned", "deletedAt", act.LastDeletedAt)
		return eventOutcome{Note: "stale: the manifest was deleted at " + act.LastDeletedAt.Format(time.RFC3339) + ", after this push"}, nil
	}
	images, err := p.images.ListImages(ctx, e.Registry, e.Repository)
	if err != nil {
		return eventOutcome{}, err
	}
	view, err := p.eventTags(ctx, e, images, func(view []store.Tag) ([]store.Tag, []store.Tag) {
		if e.Tag == "" {
			return nil, view
		}
		row, after, changed := lifecycle.PushTag(view, e.Tag, e.Digest, at)
		if !changed {
			return nil, after
		}
		return []store.Tag{row}, after
	})
	if err != nil {
		return eventOutcome{}, err
	}
	tags := lifecycle.TagsByDigest(view)[e.Digest]
	if len(tags) > 0 {
		// Tagged (again): findings resolved while it was untagged are active again.
		if err := p.findings().Retrack(ctx, e.Registry, e.Repository, []string{e.Digest}, images); err != nil {
			return eventOutcome{}, fmt.Errorf("reactivating findings of %s: %w", e.Ref(), err)
		}
	}
	window := store.Window{PushDays: p.cfg.PushDays, PullDays: p.cfg.PullDays}
	_, due, mine := scanDue(act, window, imagesOf(images, e.Digest), p.currentGeneration(), claimant, now)
	if mine && !due {
		return eventOutcome{Enqueued: true, Note: "scan enqueued by an earlier delivery"}, nil
	}
	if !due {
		return eventOutcome{Note: "not due: scan already claimed today or result current"}, nil
	}
	scan := store.ScanTask{Registry: e.Registry, Repository: e.Repository, Digest: e.Digest, Tags: tags,
		Reason: store.ReasonEvent, RunID: eventsRunID(now)}
	msg, err := store.EncodeScanTask(scan)
	if err == nil {
		err = p.scanTasks.Send(ctx, msg)
	}
	if err != nil {
		return eventOutcome{}, fmt.Errorf("enqueueing scan of %s: %w", e.Ref(), err)
	}
	claimed, err := p.activity.ClaimScanAs(ctx, e.Registry, e.Repository, e.Digest, now, claimant)
	if err != nil {
		return eventOutcome{}, fmt.Errorf("claiming scan of %s: %w", e.Ref(), err)
	}
	if !claimed {
		// A lister claimed it between our read and our claim: both sent, the scan is
		// idempotent; count it where it was claimed.
		return eventOutcome{Note: "scan claimed concurrently by another sender"}, nil
	}
	log.Info("push event: scan enqueued")
	return eventOutcome{Enqueued: true}, nil
}

// deleteEvent records a manifest (or tag) deletion: the delete time in activity
// (so an older push arriving later is not scanned), the digest's tags deleted, the
// images rows' Tags, and the findings of its platforms no current tag references
// resolved [lifecycle.ReasonDeleted]. A delete older than the digest's last push is
// stale (the manifest was pushed again) and changes nothing.
func (p *Pipeline) deleteEvent(ctx context.Context, log *slog.Logger, e regevent.Event, at time.Time, source string, now time.Time) (eventOutcome, error) {
	if e.Digest == "" {
		return p.deleteTagEvent(ctx, e, at, now)
	}
	act, err := p.activity.GetActivity(ctx, e.Registry, e.Repository, e.Digest)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return eventOutcome{}, fmt.Errorf("reading activity of %s: %w", e.Ref(), err)
	}
	if act.LastPushedAt.After(at) {
		log.Info("delete event older than the digest's last push; ignored", "pushedAt", act.LastPushedAt)
		return eventOutcome{Note: "stale: pushed again at " + act.LastPushedAt.Format(time.RFC3339)}, nil
	}
	del := store.Activity{Registry: e.Registry, Repository: e.Repository, Digest: e.Digest, LastDeletedAt: at, Source: source}
	if err := p.activity.RecordActivity(ctx, del, 0); err != nil {
		return eventOutcome{}, fmt.Errorf("recording deletion of %s: %w", e.Ref(), err)
	}
	images, err := p.images.ListImages(ctx, e.Registry, e.Repository)
	if err != nil {
		return eventOutcome{}, err
	}
	view, err := p.eventTags(ctx, e, images, func(view []store.Tag) ([]store.Tag, []store.Tag) {
		return lifecycle.DeleteDigest(view, e.Digest, at)
	})
	if err != nil {
		return eventOutcome{}, err
	}
	if err := p.findings().ResolveDeleted(ctx, e.Registry, e.Repository, e.Digest, view, images, now); err != nil {
		return eventOutcome{}, fmt.Errorf("resolving findings of deleted %s: %w", e.Ref(), err)
	}
	log.Info("delete event: findings resolved")
	return eventOutcome{Note: "deleted"}, nil
}

// deleteTagEvent deletes one tag (distribution 3 sends tag deletes with no digest)
// and resolves the digest it named if no other tag references it.
func (p *Pipeline) deleteTagEvent(ctx context.Context, e regevent.Event, at, now time.Time) (eventOutcome, error) {
	images, err := p.images.ListImages(ctx, e.Registry, e.Repository)
	if err != nil {
		return eventOutcome{}, err
	}
	var digest string
	view, err := p.eventTags(ctx, e, images, func(view []store.Tag) ([]store.Tag, []store.Tag) {
		rows, after := lifecycle.DeleteTag(view, e.Tag, at)
		for _, r := range rows {
			digest = r.Digest
		}
		return rows, after
	})
	if err != nil || digest == "" {
		return eventOutcome{Note: "tag deleted"}, err
	}
	if err := p.findings().ResolveDeleted(ctx, e.Registry, e.Repository, digest, view, images, now); err != nil {
		return eventOutcome{}, fmt.Errorf("resolving findings of %s after deleting tag %s: %w", digest, e.Tag, err)
	}
	return eventOutcome{Note: "tag deleted"}, nil
}

// eventTags applies change to the repository's tag view and writes the rows it
// returns, re-reading the view when a concurrent writer (a lister, another event)
// wins the ETag race, then brings the images rows' Tags in line. It returns the view
// after the change.
func (p *Pipeline) eventTags(ctx context.Context, e regevent.Event, images []store.Image,
	change func(view []store.Tag) (rows, after []store.Tag)) ([]store.Tag, error) {
	for attempt := 1; ; attempt++ {
		stored, err := p.tags.ListTags(ctx, e.Registry, e.Repository)
		if err != nil {
			return nil, err
		}
		rows, view := change(stored)
		if len(rows) > 0 {
			err = p.tags.PutTags(ctx, e.Registry, e.Repository, rows)
		}
		if err == nil {
			if err := p.imageColumns.SetImageTags(ctx, e.Registry, e.Repository, imageTags(images, view)); err != nil {
				return nil, err
			}
			return view, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt == maxTagWriteAttempts {
			return nil, fmt.Errorf("writing tags of %s: %w", e.Ref(), err)
		}
	}
}
