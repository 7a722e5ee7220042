package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/host"
)

// advisoriesInvocation is the invocation key of an advisories tick in its run.
const advisoriesInvocation = "advisories"

// Advisories is the timer function: it syncs the configured ecosystems and the
// severity folder from TIDEWATCH_ADVISORIES_URL (an http(s) OSV bulk-export base or
// a directory) into the advisories blob container, within the invocation's budget,
// and records the outcome as the run "advisories-<tick>". A sync that switched to a
// new generation enqueues the first rematch page (counted as RematchEnqueued; its
// pages count in the same run). A rejected folder keeps
// its previous data; the answer is 200 for a sync that completed or was rejected
// (retrying the same export cannot help) and 500 for a transient failure.
func (p *Pipeline) Advisories(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	now := p.now().UTC()
	runID := "advisories-" + now.Format("20060102T150405Z")
	if timer, err := inv.Timer(host.TimerBinding); err == nil && timer.IsPastDue {
		log.Warn("advisories timer is past due")
	}
	folders := append([]string(nil), p.cfg.Ecosystems...)
	if p.cfg.SeveritySource != "" {
		folders = append(folders, p.cfg.SeveritySource)
	}
	var res *feed.Result
	src, err := feed.OpenSources(p.cfg.AdvisoriesURL, p.cfg.OVALURL, folders)
	if err == nil {
		res, err = feed.NewSyncer(src, p.advisoryBlobs, feed.WithClock(p.now), feed.WithLogger(log)).Sync(ctx, folders)
	}
	d := syncDelta(res, err)
	var rematchErr error
	if res != nil && res.Changed && res.Pointer != nil {
		// A new generation: re-match every stored inventory against it. A send that
		// fails is not retried by a later tick (the next sync is unchanged); listrepo's
		// due-ness re-matches each digest whose Generation differs instead.
		if rematchErr = p.enqueueRematch(ctx, res.Pointer.Generation, runID); rematchErr != nil {
			d.Failed++
			d.Failure = strings.TrimPrefix(d.Failure+"\n"+rematchErr.Error(), "\n")
			log.Error("enqueueing rematch of the new generation", "error", rematchErr)
		} else {
			d.RematchEnqueued = 1
			log.Info("rematch of the new generation enqueued", "generation", res.Pointer.Generation)
		}
	}
	if res != nil && res.Pointer != nil {
		log.Info("advisories synced", "generation", res.Pointer.Generation, "changed", res.Changed,
			"checkedAt", res.Pointer.CheckedAt, "folders", d.Folders)
	}
	d.StartedAt, d.FinishedAt, d.Deliveries = now, p.now().UTC(), 1
	rctx, cancel := recordContext(ctx)
	defer cancel()
	if d.Generation == "" {
		p.servingUse(rctx, log).stamp(&d) // the sync wrote no pointer: the previous generation keeps serving
	}
	if rerr := p.runs.RecordInvocation(rctx, runDate(now), runID, advisoriesInvocation, d); rerr != nil {
		log.Error("recording run", "runId", runID, "error", rerr)
		return errors.Join(err, fmt.Errorf("recording run %s: %w", runID, rerr))
	}
	if err == nil {
		return rematchErr
	}
	err = fmt.Errorf("syncing advisories from %s: %w", p.cfg.AdvisoriesURL, err)
	if feed.IsPermanent(err) {
		log.Error("advisory sync rejected", "error", err)
		return host.Permanent(err)
	}
	log.Warn("advisory sync failed, the previous generation keeps serving", "error", err)
	return err
}
