package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// FuncRematch re-matches stored inventories against the current advisories.
const FuncRematch = host.FunctionRematch

// defaultRematchPageSize is how many images rows one rematch task covers. Each row
// costs a findings-partition read, a batch write and a row write (plus an inventory
// blob read when the row keeps no inline copy), so a page stays far inside the
// invocation budget.
const defaultRematchPageSize = 100

// WithRematchPageSize sets how many images rows one rematch task covers (tests).
func WithRematchPageSize(n int) Option {
	return func(p *Pipeline) { p.rematchPageSize = n }
}

// Rematch handles one rematch task: every images row of its page (or of its scoped
// digest) that a tag references and whose inventory is stored for the current
// analyzer is matched again against the current advisory index, without a registry
// request; findings move through the lifecycle with reason "advisory", and the row's
// counts, status and Generation are rewritten. A row without a usable inventory is
// sent to scan-tasks instead. The next page is enqueued before the task completes.
func (p *Pipeline) Rematch(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	text, err := inv.QueueMessage(host.QueueBinding)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncRematch, text, err)
	}
	task, err := store.DecodeRematchTask(text)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncRematch, text, err)
	}
	log = log.With("generation", task.Generation, "runId", task.RunID, "partition", task.Partition, "continuation", task.Continuation)
	if task.Scope != nil {
		log = log.With("registry", task.Scope.Registry, "repository", task.Scope.Repository, "digest", task.Scope.Digest)
	}
	now := p.now().UTC()
	d, err := p.rematch(ctx, log, task, now)
	if err != nil {
		var fd store.RunDelta
		fd, err = p.failure(ctx, log, inv, p.rematchTasks, text, err, nil)
		fd.Rematched, fd.Rescanned = d.Rematched, d.Rescanned // what it did before failing
		d = fd
	}
	return p.finish(ctx, log, inv, task.RunID, now, d, err)
}

// rematch does the work of one rematch task and returns what it counted, also when
// it fails part way (a redelivery redoes the page: every write is repeatable).
func (p *Pipeline) rematch(ctx context.Context, log *slog.Logger, task store.RematchTask, now time.Time) (store.RunDelta, error) {
	var d store.RunDelta
	idx, generation, superseded, err := p.rematchIndex(ctx, log, task)
	if err != nil {
		return d, err
	}
	if superseded {
		log.Info("rematch chain superseded by a newer generation: stopping", "current", generation)
		return d, nil
	}
	rows, next, err := p.rematchPage(ctx, task)
	if err != nil {
		return d, err
	}
	outcomes, errs := p.rematchRows(ctx, log, match.NewMatcher(idx), generation, rows, now)
	sent := map[string]bool{} // scan tasks sent by this page, per digest
	var failures []string
	for i, img := range rows {
		err := errs[i]
		switch {
		case err != nil && isPermanent(ctx, err):
			d.Failed++
			failures = append(failures, img.Digest+": "+err.Error())
			p.recordRematchError(ctx, log, img, err, now)
		case err != nil:
			return d, err
		case outcomes[i] == rowRematched:
			d.Rematched++
		case outcomes[i] == rowNeedsScan:
			if err := p.rescan(ctx, task, img, sent); err != nil {
				return d, err
			}
			d.Rescanned++
		}
	}
	d.Failure = strings.Join(failures, "\n")
	if next != nil {
		msg, err := store.EncodeRematchTask(*next)
		if err == nil {
			err = p.rematchTasks.Send(ctx, msg)
		}
		if err != nil {
			return d, fmt.Errorf("enqueueing the rematch page after %s %s: %w", next.Partition, next.Continuation, err)
		}
	}
	log.Info("rematched page", "rows", len(rows), "rematched", d.Rematched, "rescanned", d.Rescanned,
		"failed", d.Failed, "last", next == nil, "current", idx.Generation())
	return d, nil
}

// rematchConcurrency is how many rows of a page are re-matched at once: each row is
// a few storage round trips, which dominate a page's time.
const rematchConcurrency = 8

// rematchRows re-matches rows, rematchConcurrency at a time, sharing matcher (the
// page's rows share base images: each package is evaluated once). It returns each
// row's outcome and error; after the first transient error the rows not started yet
// are left with it, since the page is delivered again anyway.
func (p *Pipeline) rematchRows(ctx context.Context, log *slog.Logger, matcher *match.Matcher, generation string, rows []store.Image, now time.Time) ([]rowOutcome, []error) {
	outcomes, errs := make([]rowOutcome, len(rows)), make([]error, len(rows))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	slots := make(chan struct{}, rematchConcurrency)
	for i, img := range rows {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			errs[i] = context.Cause(ctx)
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			outcomes[i], errs[i] = p.rematchRow(ctx, log, matcher, generation, img, now)
			if errs[i] != nil && !isPermanent(ctx, errs[i]) {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	return outcomes, errs
}

// rematchIndex is the advisory index rows are re-matched against: the only use of
// the pipeline's index accessor in rematch. A page chain started by a sync names the
// synced pointer's generation: when the pointer loaded is another, current.json is
// read again first, and a chain whose generation is still not current is superseded
// by a newer sync's chain. The generation returned is the one rows record (the
// pointer's id for a synced source, as scans record it), read with the index.
func (p *Pipeline) rematchIndex(ctx context.Context, log *slog.Logger, task store.RematchTask) (*advisory.Index, string, bool, error) {
	chain := task.Scope == nil && isURL(p.cfg.AdvisoriesURL)
	if chain {
		p.rereadPointerUnless(task.Generation)
	}
	idx, use, err := p.advisoriesInUse(ctx, log)
	if err != nil {
		return nil, "", false, err
	}
	return idx, use.generation, chain && use.generation != task.Generation, nil
}

// rematchPage returns the rows task covers and the task for the page after them
// (nil for the last page and for a scoped task).
func (p *Pipeline) rematchPage(ctx context.Context, task store.RematchTask) ([]store.Image, *store.RematchTask, error) {
	if s := task.Scope; s != nil {
		rows, err := p.images.ImagesOf(ctx, s.Registry, s.Repository, s.Digest)
		return rows, nil, err
	}
	size := p.rematchPageSize
	if size <= 0 {
		size = defaultRematchPageSize
	}
	rows, last, done, err := p.imagePages.ListImagesAfter(ctx, store.ImageCursor{Partition: task.Partition, Row: task.Continuation}, size)
	if err != nil || done {
		return rows, nil, err
	}
	next := task
	next.Partition, next.Continuation = last.Partition, last.Row
	return rows, &next, nil
}

// rowOutcome is what a rematch did with one images row.
type rowOutcome int

const (
	// rowSkipped: no tag references the row; its findings stay as tag
	// reconciliation left them.
	rowSkipped rowOutcome = iota
	rowRematched
	// rowNeedsScan: the row has no inventory for the current analyzer.
	rowNeedsScan
)

// rematchRow re-matches one images row from its stored inventory.
func (p *Pipeline) rematchRow(ctx context.Context, log *slog.Logger, matcher *match.Matcher, generation string, img store.Image, now time.Time) (rowOutcome, error) {
	if len(img.Tags) == 0 {
		return rowSkipped, nil
	}
	if !inventoryCurrent(img) {
		return rowNeedsScan, nil
	}
	data, fromBlob, err := p.inventoryOf(ctx, log, img)
	if errors.Is(err, store.ErrNotFound) {
		return rowNeedsScan, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the inventory of %s: %w", img.Digest, err)
	}
	inv, err := inventory.Decode(data)
	if err != nil || inv.Analyzer != inventory.Analyzer {
		log.Warn("stored inventory is unusable: scanning instead", "platformDigest", img.Digest, "error", err)
		return rowNeedsScan, nil
	}
	if fromBlob {
		// The row is rewritten below: with a copy of the blob it read, a row written
		// before inline copies (or with a corrupt one) needs no blob read next time.
		if _, err := img.SetInlineInventory(data, p.inlineLimit()); err != nil {
			return 0, err
		}
	}
	pr := scanner.AssessWith(matcher, inv)
	counts, err := p.findings().Rematch(ctx, img.Registry, img.Repository, img.Digest, findingRows(pr.Findings), generation, now)
	if err != nil {
		return 0, err
	}
	img.Counts, img.Generation, img.LastMatchedAt = counts, generation, now
	img.Status, img.Error, img.Packages = pr.Status, pr.Error, packageCounts(pr.Packages)
	img.AdvisorySource = pr.AdvisorySource
	if err := p.images.PutImage(ctx, img); err != nil {
		return 0, err
	}
	return rowRematched, nil
}

// WithInlineInventoryLimit bounds the gzipped inventory scans and rematches keep in
// an images row below store.MaxInlineInventory (tests: an inventory too big to inline).
func WithInlineInventoryLimit(n int) Option {
	return func(p *Pipeline) { p.inlineInventoryLimit = n }
}

func (p *Pipeline) inlineLimit() int {
	if p.inlineInventoryLimit <= 0 {
		return store.MaxInlineInventory
	}
	return p.inlineInventoryLimit
}

// inventoryOf returns img's stored inventory JSON: the row's inline copy when it has
// one that matches its checksum (no blob read), else the blob of record (fromBlob).
func (p *Pipeline) inventoryOf(ctx context.Context, log *slog.Logger, img store.Image) (data []byte, fromBlob bool, err error) {
	data, ok, err := img.InlineInventory()
	if ok {
		return data, false, nil
	}
	if err != nil {
		log.Warn("inline inventory copy is unusable: reading the blob", "platformDigest", img.Digest, "error", err)
	}
	data, err = p.inventories.GetInventory(ctx, img.InventoryRef)
	return data, true, err
}

// inventoryCurrent reports whether img's stored inventory can be re-matched: a
// settled result whose inventory the current analyzer version wrote.
func inventoryCurrent(img store.Image) bool {
	switch img.Status {
	case scanner.StatusScanned, scanner.StatusIncomplete, scanner.StatusUnsupported:
	default:
		return false
	}
	return img.InventoryRef != "" && img.Analyzer == inventory.Analyzer
}

// rescan sends a scan task for the digest of img (its index when it has one), once
// per page.
func (p *Pipeline) rescan(ctx context.Context, task store.RematchTask, img store.Image, sent map[string]bool) error {
	digest := img.Digest
	if img.IndexDigest != "" {
		digest = img.IndexDigest
	}
	key := img.Registry + "/" + img.Repository + "@" + digest
	if sent[key] {
		return nil
	}
	msg, err := store.EncodeScanTask(store.ScanTask{Registry: img.Registry, Repository: img.Repository, Digest: digest,
		Tags: img.Tags, Reason: store.ReasonRescan, RunID: task.RunID})
	if err == nil {
		err = p.scanTasks.Send(ctx, msg)
	}
	if err != nil {
		return fmt.Errorf("enqueueing a scan of %s: %w", key, err)
	}
	sent[key] = true
	return nil
}

// recordRematchError notes a permanent failure on the row it happened to (LastError),
// keeping its last good result.
func (p *Pipeline) recordRematchError(ctx context.Context, log *slog.Logger, img store.Image, cause error, now time.Time) {
	rctx, cancel := recordContext(ctx)
	defer cancel()
	if err := p.imageColumns.SetImageError(rctx, img.Registry, img.Repository, []string{img.Digest}, "rematch: "+cause.Error(), now); err != nil {
		log.Error("recording failed rematch", "platformDigest", img.Digest, "error", err)
	}
}

// enqueueRematch sends the first page of a rematch of every stored inventory,
// started by generation.
func (p *Pipeline) enqueueRematch(ctx context.Context, generation, runID string) error {
	msg, err := store.EncodeRematchTask(store.RematchTask{Generation: generation, RunID: runID})
	if err == nil {
		err = p.rematchTasks.Send(ctx, msg)
	}
	if err != nil {
		return fmt.Errorf("enqueueing the first rematch page of generation %s: %w", generation, err)
	}
	return nil
}
