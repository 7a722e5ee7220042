package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Scan handles one scan task: every platform of the digest is scanned and written to
// the images and findings tables; findings of the digest a tag previously pointed at
// that are absent now are resolved by this digest.
func (p *Pipeline) Scan(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	text, err := inv.QueueMessage(host.QueueBinding)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncScan, text, err)
	}
	task, err := store.DecodeScanTask(text)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncScan, text, err)
	}
	log = log.With("registry", task.Registry, "repository", task.Repository, "digest", task.Digest, "runId", task.RunID)
	c, err := p.registry(task.Registry)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncScan, text, err)
	}
	now := p.now().UTC()
	use, err := p.scan(ctx, log, c, task, now)
	d := store.RunDelta{Scanned: 1}
	if err != nil {
		d, err = p.scanFailure(ctx, log, inv, task, text, err, now)
	}
	use.stamp(&d)
	return p.finish(ctx, log, inv, task.RunID, now, d, err)
}

// scan does the work of one scan task and returns the advisory generation it used
// (also when the failure is that the generation is stale).
func (p *Pipeline) scan(ctx context.Context, log *slog.Logger, c imageSource, task store.ScanTask, now time.Time) (advisoryUse, error) {
	adv, use, err := p.advisorySetInUse(ctx, log)
	if err != nil {
		// Not the image's fault: record it and let the host retry (then poison), so the
		// task is kept until advisories are back.
		rctx, cancel := recordContext(ctx)
		defer cancel()
		p.recordFailedImage(rctx, log, task, err, now)
		return use, err
	}
	log = log.With("generation", use.generation)
	ref := task.Registry + "/" + task.Repository + "@" + task.Digest
	target, err := c.Target(ctx, ref)
	if err != nil {
		return use, fmt.Errorf("resolving %s: %w", ref, err)
	}
	// Each platform loads only the advisory folders of its own packages' ecosystems.
	sc, err := scanner.NewOnDemand(adv, scanner.WithLayerCache(p.layerCache()), scanner.WithRetry(c.Retry))
	if err != nil {
		return use, err
	}
	res, err := sc.Scan(ctx, target)
	if err != nil {
		return use, err
	}
	// Push and pull times belong to the digest the task names, shared by its platforms.
	act, err := p.activity.GetActivity(ctx, task.Registry, task.Repository, task.Digest)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return use, fmt.Errorf("reading activity of %s: %w", task.Digest, err)
	}
	for _, pr := range res.Platforms {
		if err := p.writePlatform(ctx, task, res, pr, act, use.generation, now); err != nil {
			return use, fmt.Errorf("writing results of %s (%s): %w", pr.Digest, pr.Platform, err)
		}
		log.Info("scanned platform", "platform", pr.Platform, "platformDigest", pr.Digest,
			"status", pr.Status, "findings", len(pr.Findings))
	}
	return use, p.resolveReplaced(ctx, log, task, res, now)
}

// scanFailure classifies a failed scan (see [Pipeline.failure]). A permanent failure
// marks the image failed and completes the message; a transient one goes back to the
// host, and is recorded failed only on the last delivery, so the poison queue never
// holds a scan without a record.
func (p *Pipeline) scanFailure(ctx context.Context, log *slog.Logger, inv *host.Invocation, task store.ScanTask, text []byte, cause error, now time.Time) (store.RunDelta, error) {
	record := func(ctx context.Context, cause error) {
		rctx, cancel := recordContext(ctx)
		defer cancel()
		p.recordFailedImage(rctx, log, task, cause, now)
	}
	d, err := p.failure(ctx, log, inv, p.scanTasks, text, cause, record)
	if d.Failure != "" {
		d.Failure = task.Digest + ": " + d.Failure
	}
	return d, err
}

// recordFailedImage records a failed scan of task's digest without losing a good
// result: rows that exist for the digest (its own, or its platforms') get LastError
// and LastErrorAt and keep their status, counts and findings; only when there is none
// is a failed row written, keyed by the task's digest.
func (p *Pipeline) recordFailedImage(ctx context.Context, log *slog.Logger, task store.ScanTask, cause error, now time.Time) {
	rows, err := p.images.ImagesOf(ctx, task.Registry, task.Repository, task.Digest)
	if err != nil {
		log.Error("recording failed scan: reading images rows", "error", err)
		return
	}
	if len(rows) > 0 {
		digests := make([]string, 0, len(rows))
		for _, r := range rows {
			digests = append(digests, r.Digest)
		}
		if err := p.imageColumns.SetImageError(ctx, task.Registry, task.Repository, digests, cause.Error(), now); err != nil {
			log.Error("recording failed scan", "error", err)
		}
		return
	}
	img := store.Image{
		Registry: task.Registry, Repository: task.Repository, Digest: task.Digest,
		Tags: task.Tags, Status: scanner.StatusFailed, Error: cause.Error(), LastScannedAt: now,
		LastError: cause.Error(), LastErrorAt: now,
	}
	if err := p.images.PutImage(ctx, img); err != nil {
		log.Error("recording failed scan", "error", err)
	}
}

// writePlatform writes one platform's result: its findings through the lifecycle
// (absent ones resolve "rescan"), its inventory, then its images row with the counts
// of its active findings, the inventory's analyzer (what rematch and due-ness check
// before reusing it) and, when it is small enough, a copy of the inventory.
func (p *Pipeline) writePlatform(ctx context.Context, task store.ScanTask, res *scanner.Result, pr scanner.PlatformResult, act store.Activity, generation string, now time.Time) error {
	img := store.Image{
		Registry: task.Registry, Repository: task.Repository, Digest: pr.Digest, Tags: task.Tags,
		IndexDigest: res.IndexDigest, Platform: pr.Platform,
		LastScannedAt: now, LastMatchedAt: now, Generation: generation, Status: pr.Status, Error: pr.Error,
		PushedAt: act.LastPushedAt, LastPulledAt: act.LastPulledAt,
		Packages: packageCounts(pr.Packages), Skipped: skippedColumn(res.Skipped, pr.Skipped),
		AdvisorySource: pr.AdvisorySource,
	}
	if pr.OS != nil {
		img.OS, img.OSVersion = pr.OS.ID, pr.OS.VersionID
	}
	counts, err := p.findings().Record(ctx, task.Registry, task.Repository, pr.Digest, findingRows(pr.Findings), lifecycle.ReasonRescan, now)
	if err != nil {
		return err
	}
	img.Counts = counts
	if pr.Inventory != nil {
		data, err := json.Marshal(pr.Inventory)
		if err != nil {
			return err
		}
		if img.InventoryRef, err = p.inventories.PutInventory(ctx, pr.Digest, data); err != nil {
			return err
		}
		// The blob stays the store of record; the row's copy spares a rematch reading it.
		if _, err := img.SetInlineInventory(data, p.inlineLimit()); err != nil {
			return err
		}
		img.Analyzer = pr.Inventory.Analyzer
	}
	return p.images.PutImage(ctx, img)
}

// resolveReplaced runs after every platform of a successful scan is written: it
// deletes the failure row an earlier failed scan of the task's index digest left (its
// platforms have their own rows now), then reconciles the repository's findings with
// its tag view, so digests this one replaced resolve by it. The tags and images
// partitions are each read once, however many tags the task carries.
func (p *Pipeline) resolveReplaced(ctx context.Context, log *slog.Logger, task store.ScanTask, res *scanner.Result, now time.Time) error {
	if !slices.ContainsFunc(res.Platforms, func(pr scanner.PlatformResult) bool { return pr.Digest == task.Digest }) {
		if err := p.images.DeleteImage(ctx, task.Registry, task.Repository, task.Digest); err != nil {
			return fmt.Errorf("deleting failure row of index %s: %w", task.Digest, err)
		}
	}
	view, err := p.tags.ListTags(ctx, task.Registry, task.Repository)
	if err != nil {
		return err
	}
	images, err := p.images.ListImages(ctx, task.Registry, task.Repository)
	if err != nil {
		return err
	}
	if err := p.findings().Reconcile(ctx, task.Registry, task.Repository, view, images, now); err != nil {
		return fmt.Errorf("resolving findings of digests replaced by %s: %w", task.Digest, err)
	}
	log.Debug("reconciled findings with the tag view", "tags", len(view), "images", len(images))
	return nil
}
