package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/tidewatch/tidewatch/handler/store"
	"golang.org/x/sync/errgroup"
)

// sendDue finds each listing's due digests and sends them: the digests due a scan of
// every listing together as few batch scan tasks as fit (see scanBatches), each
// rematch as its own scoped task. Send before claiming: a failed send leaves the day
// unclaimed, so the retried list task sends again (nothing lost); two racing listers
// may both send, which the idempotent scan and rematch absorb. The sends are
// independent, so they go out concurrently; the claims wait for every one of them.
func (p *Pipeline) sendDue(ctx context.Context, registryHost, runID string, ls []*listing) error {
	var scans []store.ScanDigest
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxConcurrentSends)
	for _, l := range ls {
		for _, dd := range l.due {
			if dd.reason == reasonRematch {
				g.Go(func() error { return p.sendRematch(gctx, l.task, dd.digest) })
				continue
			}
			scans = append(scans, store.ScanDigest{Digest: dd.digest, Tags: l.byDigest[dd.digest], Reason: dd.reason, Repository: l.task.Repository})
		}
	}
	if len(scans) > 0 {
		batches, err := scanBatches(store.ScanTask{Registry: registryHost, Repository: scans[0].Repository, RunID: runID}, scans)
		if err != nil {
			return err
		}
		for _, msg := range batches {
			g.Go(func() error {
				if err := p.scanTasks.Send(gctx, msg); err != nil {
					return fmt.Errorf("enqueueing scans: %w", err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

// claimListed claims the day's scan of each digest l found due (sent by now), counts
// those this message claimed, and records the repository as listed.
func (p *Pipeline) claimListed(ctx context.Context, l *listing, claimant string, now time.Time) error {
	claimed := map[string]bool{}
	rematch := map[string]bool{}
	digests := make([]string, 0, len(l.due))
	for _, dd := range l.due {
		digests = append(digests, dd.digest)
		rematch[dd.digest] = dd.reason == reasonRematch
	}
	err := l.acts.update(ctx, p.activity, digests, func(prev store.Activity, _ bool) (store.Activity, bool) {
		next, write, ok := prev.Claim(now, claimant)
		claimed[prev.Digest] = ok
		return next, write
	})
	if err != nil {
		return fmt.Errorf("claiming scans: %w", err)
	}
	for _, digest := range digests {
		if claimed[digest] {
			countEnqueued(&l.d, rematch[digest])
		}
	}
	if err := p.recordListed(ctx, l.task, now); err != nil {
		return err
	}
	l.log.Info("listed repository", "tags", l.tags, "digests", len(l.byDigest), "enqueued", l.d.Enqueued, "rematchEnqueued", l.d.RematchEnqueued)
	return nil
}

// maxConcurrentSends bounds the queue sends one list task has in flight.
const maxConcurrentSends = 8

// sendRematch sends a rematch task scoped to digest, due because only its age or
// generation made it so and every row has a current inventory ([reasonRematch]).
func (p *Pipeline) sendRematch(ctx context.Context, task store.ListTask, digest string) error {
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

// scanBatches encodes digests as scan tasks like base (registry, repository, run),
// in order: one digest alone as a single-digest task (the wire format registry
// events send), more as batch tasks of at most [store.MaxScanDigests] digests whose
// text fits [store.MaxMessageBytes] (a digest whose tags do not fit a batch goes
// alone). A digest naming its repository (a list task's digests of several) is of
// that one: a task takes its first digest's repository, and only digests of
// another repository name theirs.
func scanBatches(base store.ScanTask, digests []store.ScanDigest) ([][]byte, error) {
	encode := func(ds []store.ScanDigest) ([]byte, error) {
		t := base
		t.Repository = cmp.Or(ds[0].Repository, base.Repository)
		if len(ds) == 1 {
			t.Digest, t.Tags, t.Reason = ds[0].Digest, ds[0].Tags, ds[0].Reason
		} else {
			t.Digests = make([]store.ScanDigest, len(ds))
			for i, d := range ds {
				if cmp.Or(d.Repository, base.Repository) == t.Repository {
					d.Repository = ""
				}
				t.Digests[i] = d
			}
		}
		msg, err := store.EncodeScanTask(t)
		if err != nil {
			return nil, fmt.Errorf("enqueueing scans of %s: %w", t.Repository, err)
		}
		return msg, nil
	}
	var out [][]byte
	for len(digests) > 0 {
		n := min(len(digests), store.MaxScanDigests)
		msg, err := encode(digests[:n])
		for err == nil && len(msg) > store.MaxMessageBytes && n > 1 {
			n /= 2
			msg, err = encode(digests[:n])
		}
		if err != nil {
			return nil, err
		}
		out = append(out, msg)
		digests = digests[n:]
	}
	return out, nil
}

// countEnqueued counts one claimed digest: a rematch task or a scan task.
func countEnqueued(d *store.RunDelta, rematch bool) {
	if rematch {
		d.RematchEnqueued++
	} else {
		d.Enqueued++
	}
}
