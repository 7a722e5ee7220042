package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/store"
)

// advisoryUse is the advisory generation an invocation matched against and when the
// source last confirmed it: for a synced generation its current.json id and
// checkedAt, for a directory the index's content hash and the archives' oldest
// modification time. images rows record the generation, runs rows both.
type advisoryUse struct {
	generation string
	checkedAt  time.Time
}

// stamp records u as what d's invocation used.
func (u advisoryUse) stamp(d *store.RunDelta) {
	d.Generation, d.AdvisoryCheckedAt = u.generation, u.checkedAt
}

// loadedUse is the generation this instance has loaded, zero before the first load.
func (p *Pipeline) loadedUse() advisoryUse {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.set == nil {
		return advisoryUse{}
	}
	return p.use
}

// servingUse is the generation scans are served now: for a synced source the one
// current.json names (read without loading it; zero, logged, when it cannot be
// read), for a directory the one this instance has loaded. It is what a sweep and
// an advisories tick record.
func (p *Pipeline) servingUse(ctx context.Context, log *slog.Logger) advisoryUse {
	if !isURL(p.cfg.AdvisoriesURL) {
		return p.loadedUse()
	}
	g, err := feed.OpenCurrent(ctx, p.advisoryBlobs)
	if errors.Is(err, feed.ErrNotFound) {
		return advisoryUse{} // nothing synced yet
	}
	if err != nil {
		log.Warn("reading the serving advisory generation", "error", err)
		return advisoryUse{}
	}
	return advisoryUse{generation: g.Pointer.Generation, checkedAt: g.Pointer.CheckedAt}
}
