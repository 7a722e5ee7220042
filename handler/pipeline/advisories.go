package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/store"
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
	src, err := feed.OpenSource(p.cfg.AdvisoriesURL)
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
			"checkedAt", res.Pointer.CheckedAt, "summary", syncSummary(res))
	}
	d.StartedAt, d.FinishedAt, d.Deliveries = now, p.now().UTC(), 1
	rctx, cancel := recordContext(ctx)
	defer cancel()
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

// syncDelta is what a sync contributes to its run: a failed folder (rejected, or the
// whole sync when it failed) counts in Failed and says why in Failure, with the
// summary of every folder and the rejected records' ids (also listed when the sync
// succeeded without them).
func syncDelta(res *feed.Result, err error) store.RunDelta {
	var d store.RunDelta
	var lines []string
	if res != nil {
		lines = append(lines, syncSummary(res))
		for _, f := range res.Folders {
			if f.Status == feed.StatusRejected {
				d.Failed++
				lines = append(lines, fmt.Sprintf("%s rejected: %s", f.Folder, f.Reason))
			}
			for _, id := range f.RejectedIDs {
				lines = append(lines, fmt.Sprintf("%s record rejected: %s", f.Folder, strings.ReplaceAll(id, "\n", " ")))
			}
		}
	}
	switch {
	case err != nil && d.Failed == 0:
		d.Failed = 1
		lines = append(lines, err.Error())
	case err == nil && len(lines) < 2:
		return store.RunDelta{} // nothing refused: the row counts the invocation only
	}
	d.Failure = strings.Join(lines, "\n")
	return d
}

// syncSummary is one line naming each folder's status: "Debian updated (123 records), GIT unchanged (…)".
func syncSummary(res *feed.Result) string {
	parts := make([]string, 0, len(res.Folders))
	for _, f := range res.Folders {
		parts = append(parts, fmt.Sprintf("%s %s (%d records)", f.Folder, f.Status, f.Records))
	}
	gen := "none"
	if res.Pointer != nil {
		gen = res.Pointer.Generation
	}
	return "generation " + gen + ": " + strings.Join(parts, ", ")
}
