package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/registry"
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
	d, err := store.RunDelta{Scanned: 1}, p.scan(ctx, log, c, task, now)
	if err != nil {
		d, err = p.scanFailure(ctx, log, inv, task, text, err, now)
	}
	return p.finish(ctx, log, inv, task.RunID, now, d, err)
}

// scan does the work of one scan task.
func (p *Pipeline) scan(ctx context.Context, log *slog.Logger, c *registry.Client, task store.ScanTask, now time.Time) error {
	idx, err := p.advisories(ctx, log)
	if err != nil {
		// Not the image's fault: record it and let the host retry (then poison), so the
		// task is kept until advisories are back.
		rctx, cancel := recordContext(ctx)
		defer cancel()
		p.recordFailedImage(rctx, log, task, err, now)
		return err
	}
	ref := task.Registry + "/" + task.Repository + "@" + task.Digest
	target, err := c.Target(ctx, ref)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", ref, err)
	}
	sc, err := scanner.New(idx, scanner.WithLayerCache(p.layerCache()), scanner.WithRetry(c.Retry))
	if err != nil {
		return err
	}
	res, err := sc.Scan(ctx, target)
	if err != nil {
		return err
	}
	// Push and pull times belong to the digest the task names, shared by its platforms.
	act, err := p.store.GetActivity(ctx, task.Registry, task.Repository, task.Digest)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading activity of %s: %w", task.Digest, err)
	}
	for _, pr := range res.Platforms {
		if err := p.writePlatform(ctx, task, res, pr, act, idx.Generation(), now); err != nil {
			return fmt.Errorf("writing results of %s (%s): %w", pr.Digest, pr.Platform, err)
		}
		log.Info("scanned platform", "platform", pr.Platform, "platformDigest", pr.Digest,
			"status", pr.Status, "findings", len(pr.Findings))
	}
	return p.resolveReplaced(ctx, log, task, res, now)
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
	d, err := p.failure(ctx, log, inv, p.store.ScanTasks(), text, cause, record)
	if d.Failure != "" {
		d.Failure = task.Digest + ": " + d.Failure
	}
	return d, err
}

func (p *Pipeline) recordFailedImage(ctx context.Context, log *slog.Logger, task store.ScanTask, cause error, now time.Time) {
	img := store.Image{
		Registry: task.Registry, Repository: task.Repository, Digest: task.Digest,
		Tags: task.Tags, Status: scanner.StatusFailed, Error: cause.Error(), LastScannedAt: now,
	}
	if err := p.store.PutImage(ctx, img); err != nil {
		log.Error("recording failed scan", "error", err)
	}
}

func (p *Pipeline) writePlatform(ctx context.Context, task store.ScanTask, res *scanner.Result, pr scanner.PlatformResult, act store.Activity, generation string, now time.Time) error {
	findings := make([]store.Finding, 0, len(pr.Findings))
	img := store.Image{
		Registry: task.Registry, Repository: task.Repository, Digest: pr.Digest, Tags: task.Tags,
		IndexDigest: res.IndexDigest, Platform: pr.Platform,
		LastScannedAt: now, Generation: generation, Status: pr.Status, Error: pr.Error,
		PushedAt: act.LastPushedAt, LastPulledAt: act.LastPulledAt,
	}
	if pr.OS != nil {
		img.OS, img.OSVersion = pr.OS.ID, pr.OS.VersionID
	}
	for _, f := range pr.Findings {
		findings = append(findings, store.NewFinding(task.Registry, task.Repository, f))
		switch f.Severity {
		case match.SeverityCritical:
			img.Critical++
		case match.SeverityHigh:
			img.High++
		case match.SeverityMedium:
			img.Medium++
		case match.SeverityLow:
			img.Low++
		default:
			img.Unknown++
		}
		if f.FixStatus == match.FixStatusFixed {
			img.FixableCount++
		}
	}
	if err := p.store.UpsertFindings(ctx, pr.Digest, findings, now); err != nil {
		return err
	}
	if pr.Inventory != nil {
		data, err := json.Marshal(pr.Inventory)
		if err != nil {
			return err
		}
		if img.InventoryRef, err = p.store.PutInventory(ctx, pr.Digest, data); err != nil {
			return err
		}
	}
	return p.store.PutImage(ctx, img)
}

// resolveReplaced resolves, for each tag that moved to this digest, the findings of
// the digest it pointed at before, platform by platform.
func (p *Pipeline) resolveReplaced(ctx context.Context, log *slog.Logger, task store.ScanTask, res *scanner.Result, now time.Time) error {
	for _, tag := range task.Tags {
		t, err := p.store.GetTag(ctx, task.Registry, task.Repository, tag)
		if errors.Is(err, store.ErrNotFound) {
			continue // a tag never observed (e.g. from an event) has no previous digest
		}
		if err != nil {
			return fmt.Errorf("reading tag %s: %w", tag, err)
		}
		if t.Digest != task.Digest || t.PreviousDigest == "" || t.PreviousDigest == task.Digest {
			continue
		}
		old, err := p.imagesOf(ctx, task.Registry, task.Repository, t.PreviousDigest)
		if err != nil {
			return fmt.Errorf("reading images of previous digest %s: %w", t.PreviousDigest, err)
		}
		for _, pr := range res.Platforms {
			for _, o := range old {
				if o.Platform != pr.Platform || o.Digest == pr.Digest {
					continue
				}
				n, err := p.store.ResolveFindings(ctx, o.Digest, pr.Digest, now)
				if err != nil {
					return fmt.Errorf("resolving findings of %s: %w", o.Digest, err)
				}
				log.Info("resolved findings of replaced image", "tag", tag, "platform", pr.Platform,
					"previousDigest", o.Digest, "resolved", n)
			}
		}
	}
	return nil
}
