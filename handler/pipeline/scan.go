package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Scan handles one scan task: every platform of the digest is scanned and written to
// the images and findings tables; findings of the digest a tag previously pointed at
// that are absent now are resolved by this digest. A task carrying several digests
// scans each in turn (see [Pipeline.scanBatch]).
func (p *Pipeline) Scan(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	text, err := inv.QueueMessage(host.QueueBinding)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncScan, text, err)
	}
	task, err := store.DecodeScanTask(text)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncScan, text, err)
	}
	if len(task.Digests) > 0 {
		log = log.With("registry", task.Registry, "runId", task.RunID) // each digest's repository and digest: scanBatch
	} else {
		log = log.With("registry", task.Registry, "repository", task.Repository, "digest", task.Digest, "runId", task.RunID)
	}
	c, err := p.registry(task.Registry)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncScan, text, err)
	}
	now := p.now().UTC()
	if len(task.Digests) > 0 {
		d, err := p.scanBatch(ctx, log, inv, c, task, now)
		return p.finish(ctx, log, inv, task.RunID, now, d, err)
	}
	use, err := p.scan(ctx, log, c, task, now)
	d := store.RunDelta{Scanned: 1}
	if err != nil {
		d, err = p.scanFailure(ctx, log, inv, task, text, err, now)
	}
	use.stamp(&d)
	return p.finish(ctx, log, inv, task.RunID, now, d, err)
}

// defaultScanReserve is the budget a batch scan task keeps back by default: enough
// for the sends and records that end it, and for a slow digest.
const defaultScanReserve = time.Minute

// WithScanReserve sets the budget a batch scan task keeps back (see
// [Pipeline.scanBatch]; tests).
func WithScanReserve(d time.Duration) Option {
	return func(p *Pipeline) { p.scanReserve = d }
}

// scanBatch handles a scan task carrying several digests (listrepo's batch): they
// are scanned one after another, each as a single-digest task would be. A digest
// that succeeds is counted Scanned; one that fails permanently is recorded as a
// single task's permanent failure is (images row, run failure line) and counted
// Failed; one that fails transiently, or is deferred by a registry's Retry-After,
// is split off: sent as a single-digest task (after the registry's wait, when
// deferred), which then has its own deliveries, retries and poison queue, and
// counted Retried (Deferred). Budget rule: before each digest after the first, when
// what is left of ctx's budget is less than the reserve (WithScanReserve, default
// a minute) or twice the slowest digest so far, the digests not started go out as
// one task and this one completes. A split-off or remainder send that fails fails
// the message transiently (the redelivery scans again: scans are idempotent); on
// the last delivery the digests not done are first recorded failed, so the poison
// queue holds no scan without a record. The message never completes with a digest
// that is not scanned, recorded failed or sent again.
func (p *Pipeline) scanBatch(ctx context.Context, log *slog.Logger, inv *host.Invocation, c imageSource, task store.ScanTask, now time.Time) (store.RunDelta, error) {
	var (
		d        store.RunDelta
		use      advisoryUse
		failures []string
		slowest  time.Duration
	)
	reserve := cmp.Or(p.scanReserve, defaultScanReserve)
	each := task.Each()
	fail := func(err error, undone []store.ScanTask) (store.RunDelta, error) {
		n := inv.DequeueCount()
		log.Warn("batch scan task failed, the host will retry it", "error", err, "dequeueCount", n)
		if n >= host.MaxDequeueCount {
			rctx, cancel := recordContext(ctx)
			defer cancel()
			for _, one := range undone {
				p.recordFailedImage(rctx, log, one, fmt.Errorf("giving up after %d deliveries: %w", n, err), now)
			}
		}
		d.Retried, d.Failure = d.Retried+1, err.Error()
		use.stamp(&d)
		return d, err
	}
	for i, one := range each {
		if i > 0 && budgetShort(ctx, max(reserve, 2*slowest)) {
			rest := each[i:]
			if err := p.resend(ctx, task, rest, 0); err != nil {
				return fail(fmt.Errorf("sending the %d digests the budget left unscanned: %w", len(rest), err), rest)
			}
			log.Info("budget short: sent the digests not started as one task", "digests", len(rest))
			break
		}
		olog := log.With("repository", one.Repository, "digest", one.Digest)
		started := time.Now()
		u, err := p.scan(ctx, olog, c, one, now)
		slowest = max(slowest, time.Since(started))
		if u.generation != "" {
			use = u
		}
		if err == nil {
			d.Scanned++
			continue
		}
		wait, deferred := deferral(ctx, err)
		switch {
		case !deferred && isPermanent(ctx, err):
			olog.Error("digest failed permanently", "error", err)
			rctx, cancel := recordContext(ctx)
			p.recordFailedImage(rctx, olog, one, err, now)
			cancel()
			d.Failed++
			failures = append(failures, one.Digest+": "+err.Error())
		default:
			if serr := p.resend(ctx, task, []store.ScanTask{one}, wait); serr != nil {
				return fail(fmt.Errorf("splitting off %s: %w (cause: %w)", one.Digest, serr, err), each[i:])
			}
			olog.Warn("digest failed, split off as its own scan task", "error", err, "after", wait)
			if deferred {
				d.Deferred++
			} else {
				d.Retried++
			}
			failures = append(failures, one.Digest+": "+err.Error())
		}
	}
	d.Failure = strings.Join(failures, "; ")
	use.stamp(&d)
	return d, nil
}

// budgetShort reports whether less than reserve is left of ctx's budget.
func budgetShort(ctx context.Context, reserve time.Duration) bool {
	deadline, bounded := ctx.Deadline()
	return bounded && time.Until(deadline) < reserve
}

// resend sends digests (single-digest tasks of task's batch) as one scan task, or
// as few as fit a message, after wait; with a context detached from ctx, whose
// budget may be what ran out.
func (p *Pipeline) resend(ctx context.Context, task store.ScanTask, digests []store.ScanTask, wait time.Duration) error {
	ds := make([]store.ScanDigest, 0, len(digests))
	for _, one := range digests {
		ds = append(ds, store.ScanDigest{Digest: one.Digest, Tags: one.Tags, Reason: one.Reason, Repository: one.Repository})
	}
	base := task
	base.Digests = nil
	msgs, err := scanBatches(base, ds)
	if err != nil {
		return err
	}
	rctx, cancel := recordContext(ctx)
	defer cancel()
	for _, msg := range msgs {
		if wait > 0 {
			err = p.scanTasks.SendAfter(rctx, msg, wait)
		} else {
			err = p.scanTasks.Send(rctx, msg)
		}
		if err != nil {
			return err
		}
	}
	return nil
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
