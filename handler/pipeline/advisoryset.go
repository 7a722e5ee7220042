package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

// advisorySet is one generation of advisory data (or a directory as it is): a
// Loader decoding each folder at most once, the configured folders it serves, and
// the generation id results matched against it are stored with.
type advisorySet struct {
	loader     *advisory.Loader
	generation string
	folders    []string // the configured ecosystem folders the source holds
}

var _ scanner.Advisories = (*advisorySet)(nil)

// Index returns the index of the requested folders that are configured and held by
// the source, plus the severity folder; the packages of any other folder are gaps
// of the match, never loaded.
func (s *advisorySet) Index(ctx context.Context, folders []string) (*advisory.Index, error) {
	var load []string
	for _, f := range folders {
		if slices.Contains(s.folders, f) {
			load = append(load, f)
		}
	}
	idx, err := s.loader.Index(ctx, load)
	if err != nil {
		return nil, fmt.Errorf("loading advisories %s of generation %s: %w", strings.Join(load, ","), s.generation, err)
	}
	return idx, nil
}

// advisories returns the index of every configured ecosystem of the current
// advisory data, for work that needs them all (rematch); its folders are decoded
// once per generation and shared with the scans' on-demand indexes.
func (p *Pipeline) advisories(ctx context.Context, log *slog.Logger) (*advisory.Index, error) {
	idx, _, err := p.advisoriesInUse(ctx, log)
	return idx, err
}

// advisoriesInUse is [Pipeline.advisories] with the generation in use, read together
// with it (a generation switch never pairs one generation's name with another's
// records).
func (p *Pipeline) advisoriesInUse(ctx context.Context, log *slog.Logger) (*advisory.Index, advisoryUse, error) {
	set, use, err := p.advisorySetInUse(ctx, log)
	if err != nil {
		return nil, use, err
	}
	idx, err := set.Index(ctx, p.cfg.Ecosystems)
	return idx, use, err
}

// advisorySetInUse returns the current advisory data, whose folders load on demand,
// and the generation it is with its last check against the source. A missing or
// stale source is an error (the generation is still returned, so the failure can
// name it and its age): scans fail instead of reporting "no findings". An http(s)
// TIDEWATCH_ADVISORIES_URL is what the advisories function syncs from: scans then
// read the current generation from the advisories blob container; a directory
// (dev.sh, tests) is read directly.
func (p *Pipeline) advisorySetInUse(ctx context.Context, log *slog.Logger) (*advisorySet, advisoryUse, error) {
	if isURL(p.cfg.AdvisoriesURL) {
		return p.generationSet(ctx, log)
	}
	return p.directorySet()
}

// directorySet opens a local OSV export once per process; its age is the oldest
// modification time of its archives, its generation a hash of their names, sizes
// and modification times (so a changed export is a new generation without
// reading it).
func (p *Pipeline) directorySet() (*advisorySet, advisoryUse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	retrieved, generation, err := directoryState(p.cfg.AdvisoriesURL, p.cfg.Ecosystems)
	if err != nil {
		return nil, p.use, err
	}
	if p.set == nil || p.set.generation != generation {
		src, err := advisory.Dir(p.cfg.AdvisoriesURL)
		if err != nil {
			return nil, p.use, fmt.Errorf("loading advisories from %s: %w", p.cfg.AdvisoriesURL, err)
		}
		p.set = &advisorySet{
			loader:     advisory.NewLoader(src, advisory.WithSeverityFolder(p.cfg.SeveritySource), advisory.WithGeneration(generation)),
			generation: generation,
			folders:    p.cfg.Ecosystems,
		}
	}
	p.use = advisoryUse{generation: generation, checkedAt: retrieved}
	if err := p.checkAge(p.use); err != nil {
		return nil, p.use, err
	}
	return p.set, p.use, nil
}

// pointerRecheck is how long a loaded generation is used before current.json is
// read again: a new generation reaches scans within this time after a sync.
const pointerRecheck = 5 * time.Minute

// errNoGeneration reports that the advisories function has not completed a sync.
var errNoGeneration = errors.New("no advisory generation synced yet")

// generationSet returns the current generation, opened once per generation; the
// pointer is re-read at most every pointerRecheck. Freshness counts from the
// pointer's checkedAt (the last successful check against the source). A configured
// folder the generation does not hold is not loaded: its packages are gaps.
func (p *Pipeline) generationSet(ctx context.Context, log *slog.Logger) (*advisorySet, advisoryUse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.set == nil || now.Sub(p.pointerReadAt) >= pointerRecheck {
		g, err := feed.OpenCurrent(ctx, p.advisoryBlobs)
		if errors.Is(err, feed.ErrNotFound) {
			return nil, p.use, fmt.Errorf("%w: the advisories function has not completed a sync into blob storage: %w", errNoGeneration, advisory.ErrNoAdvisories)
		}
		if err != nil {
			return nil, p.use, err
		}
		if p.set == nil || g.Pointer.Generation != p.pointer.Generation {
			var held []string
			for _, f := range p.cfg.Ecosystems {
				if _, ok := g.Pointer.Folders[f]; ok {
					held = append(held, f)
				}
			}
			log.Info("advisory generation opened", "generation", g.Pointer.Generation, "checkedAt", g.Pointer.CheckedAt, "folders", held)
			p.set = &advisorySet{
				loader:     advisory.NewLoader(g, advisory.WithSeverityFolder(p.cfg.SeveritySource), advisory.WithGeneration(g.Pointer.Generation)),
				generation: g.Pointer.Generation,
				folders:    held,
			}
		}
		p.pointer, p.pointerReadAt = g.Pointer, now
		p.use = advisoryUse{generation: g.Pointer.Generation, checkedAt: g.Pointer.CheckedAt}
	}
	if err := p.checkAge(p.use); err != nil {
		return nil, p.use, err
	}
	return p.set, p.use, nil
}

// rereadPointerUnless makes the next index use read current.json again unless the
// pointer loaded is generation's, so a rematch of a just-synced generation does not
// run on the previous index for up to pointerRecheck.
func (p *Pipeline) rereadPointerUnless(generation string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pointer.Generation != generation {
		p.pointerReadAt = time.Time{}
	}
}

// checkAge fails when the generation in use was last checked against its source
// longer than TIDEWATCH_MAX_DB_AGE ago by the pipeline's clock.
func (p *Pipeline) checkAge(use advisoryUse) error {
	if age := p.now().Sub(use.checkedAt); p.cfg.MaxDBAge > 0 && age > p.cfg.MaxDBAge {
		return fmt.Errorf("advisory data is stale: generation %s last checked against the source %s ago, TIDEWATCH_MAX_DB_AGE is %s: %w",
			use.generation, age.Round(time.Minute), p.cfg.MaxDBAge, advisory.ErrNoAdvisories)
	}
	return nil
}

// isURL reports whether an advisory source is an http(s) base rather than a directory.
func isURL(source string) bool {
	return strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://")
}

// currentGeneration is the generation in use (as images rows record it), or "" before
// the first use.
func (p *Pipeline) currentGeneration() string {
	return p.loadedUse().generation
}

// directoryState is, for a local directory, when the advisory data was last
// fetched (the oldest modification time of its ecosystems' all.zip files; the
// newest record's `modified` is no measure of freshness: a feed may go quiet for
// days) and a generation id hashing each archive's name, size and modification
// time.
func directoryState(source string, ecosystems []string) (time.Time, string, error) {
	var oldest time.Time
	h := sha256.New()
	for _, eco := range ecosystems {
		info, err := os.Stat(filepath.Join(source, eco, "all.zip"))
		if err != nil {
			return time.Time{}, "", fmt.Errorf("checking age of %s advisories: %w: %w", eco, advisory.ErrNoAdvisories, err)
		}
		if oldest.IsZero() || info.ModTime().Before(oldest) {
			oldest = info.ModTime()
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", eco, info.Size(), info.ModTime().UnixNano())
	}
	return oldest, "dir-" + hex.EncodeToString(h.Sum(nil)[:12]), nil
}
