package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/feed"
)

// urlEntry is the cache directory a URL source syncs into.
func (l *advisoryLoader) urlEntry() string {
	sum := sha256.Sum256([]byte(l.source))
	return filepath.Join(l.root, "url-"+hex.EncodeToString(sum[:8]))
}

// fromURL syncs the URL source into its cache entry (conditional requests: an
// unchanged export costs a 304 per folder) and loads the generation. When the sync
// fails transiently, a cached generation within TIDEWATCH_MAX_DB_AGE is scanned
// with a warning; without one the scan fails. A broken entry is rebuilt once.
func (l *advisoryLoader) fromURL(ctx context.Context) (*advisory.Index, error) {
	entry := l.urlEntry()
	blobs := feed.Dir(entry)
	if _, err := feed.OpenCurrent(ctx, blobs); err != nil && !errors.Is(err, feed.ErrNotFound) {
		l.warnf("cached advisories in %s are unusable (%v): rebuilding them", entry, err)
		if err := l.discardEntry(entry); err != nil {
			return nil, err
		}
	}
	for rebuilt := false; ; rebuilt = true {
		syncErr := l.syncURL(ctx, blobs)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("syncing advisories from %s: %w", l.source, ctxErr)
		}
		idx, err := l.loadSynced(ctx, blobs, syncErr)
		if !errors.Is(err, errCorruptCache) || rebuilt {
			return idx, err
		}
		l.warnf("cached advisories in %s are unusable (%v): rebuilding them", entry, err)
		if err := l.discardEntry(entry); err != nil {
			return nil, err
		}
	}
}

// syncURL runs one sync into blobs. A rejected folder is reported and keeps its
// cached data; a concurrent run's sync (ErrConflict) is as good as this one's.
func (l *advisoryLoader) syncURL(ctx context.Context, blobs feed.Dir) error {
	ctx, cancel := context.WithTimeout(ctx, syncBudget)
	defer cancel()
	src := feed.NewHTTPSource(l.source, l.httpOpts...)
	_, err := feed.NewSyncer(src, blobs, feed.WithClock(l.now)).Sync(ctx, l.folders())
	switch {
	case err == nil, errors.Is(err, feed.ErrConflict):
		return nil
	case errors.Is(err, feed.ErrRejected):
		l.warnf("syncing advisories from %s: %v; rejected folders keep their cached data", l.source, err)
		return nil
	}
	return fmt.Errorf("syncing advisories from %s: %w", l.source, err)
}

// loadSynced loads the entry's current generation after a sync that failed with
// syncErr (nil when it succeeded). The generation must hold every ecosystem and
// have been checked against the source within maxAge; a generation that is there
// but cannot be loaded is errCorruptCache.
func (l *advisoryLoader) loadSynced(ctx context.Context, blobs feed.Dir, syncErr error) (*advisory.Index, error) {
	g, err := feed.OpenCurrent(ctx, blobs)
	if errors.Is(err, feed.ErrNotFound) {
		return nil, afterSync(fmt.Errorf("no advisories from %s in the cache to scan with: %w", l.source, advisory.ErrNoAdvisories), syncErr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptCache, err)
	}
	p := g.Pointer
	for _, eco := range l.ecosystems {
		if _, ok := p.Folders[eco]; !ok {
			return nil, afterSync(fmt.Errorf("advisories from %s have no %s folder (generation %s): %w", l.source, eco, p.Generation, advisory.ErrNoAdvisories), syncErr)
		}
	}
	checked := l.checkedAt(p)
	if age := l.now().Sub(checked); age > l.maxAge {
		return nil, afterSync(fmt.Errorf("cached advisories from %s are stale: last checked %s ago, TIDEWATCH_MAX_DB_AGE is %s: %w",
			l.source, age.Round(time.Minute), l.maxAge, advisory.ErrNoAdvisories), syncErr)
	}
	idx, err := g.Load(ctx, l.ecosystems, l.loadOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorruptCache, err)
	}
	if syncErr != nil {
		l.warnf("%v; scanning with the cached generation %s, last checked %s", syncErr, p.Generation, checked.Format(time.RFC3339))
	}
	return idx, nil
}

// checkedAt is the oldest check against the source of the folders this scan
// loads: a folder the pointer holds for another ecosystem list does not count.
func (l *advisoryLoader) checkedAt(p feed.Pointer) time.Time {
	var oldest time.Time
	for name, f := range p.Folders {
		if slices.Contains(l.folders(), name) && (oldest.IsZero() || f.CheckedAt.Before(oldest)) {
			oldest = f.CheckedAt
		}
	}
	return oldest
}

// discardEntry moves a broken URL entry aside and deletes it, so a run still
// reading it keeps its open files and the next sync starts from nothing.
func (l *advisoryLoader) discardEntry(entry string) error {
	trash := filepath.Join(l.root, fmt.Sprintf(".trash-%s-%d", filepath.Base(entry), time.Now().UnixNano()))
	if err := os.Rename(entry, trash); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("discarding cache entry %s: %w", entry, err)
	}
	return os.RemoveAll(trash)
}

// afterSync puts the sync's failure, if any, in front of err: it is why the cache
// could not help.
func afterSync(err, syncErr error) error {
	if syncErr == nil {
		return err
	}
	return fmt.Errorf("%w; %w", syncErr, err)
}
