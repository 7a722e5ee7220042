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
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Function names: the folder names under functions/ and the routes the host calls.
const (
	FuncSweep    = host.FunctionSweep
	FuncListRepo = host.FunctionListRepo
	FuncScan     = host.FunctionScan
	// FuncAdvisories syncs the advisory source into blob generations.
	FuncAdvisories = host.FunctionAdvisories
)

// Pipeline holds the clients every invocation shares. Build it once per process.
type Pipeline struct {
	stores
	cfg          *config.Config
	registries   map[string]registryClient
	version      string
	now          func() time.Time
	registryOpts []registry.Option

	mu  sync.Mutex
	set *advisorySet // opened on first use, kept for the process (or generation); staleness checked per use
	// pointer is the generation set reads and pointerReadAt when it was last read
	// (URL sources only).
	pointer       feed.Pointer
	pointerReadAt time.Time
}

// Option configures a Pipeline.
type Option func(*Pipeline)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(p *Pipeline) { p.now = now } }

// WithRegistryOptions adds options to every registry client (tests: transports, retry).
func WithRegistryOptions(opts ...registry.Option) Option {
	return func(p *Pipeline) { p.registryOpts = append(p.registryOpts, opts...) }
}

// New builds the pipeline's registry clients from cfg.
func New(cfg *config.Config, st *store.Store, version string, opts ...Option) (*Pipeline, error) {
	p := newPipeline(cfg, storesOf(st), version, opts...)
	// One managed identity for every acr registry, built only if one is configured.
	acrCredential := sync.OnceValues(func() (azcore.TokenCredential, error) {
		return store.NewCredential(cfg.AzureClientID)
	})
	for _, r := range cfg.Registries {
		c, err := newRegistryClient(r, version, acrCredential, p.registryOpts...)
		if err != nil {
			return nil, fmt.Errorf("configuring registry %s: %w", r.Host, err)
		}
		p.registries[r.Host] = c
	}
	return p, nil
}

// newPipeline is a Pipeline over s with no registry clients yet (New adds them; unit
// tests add fakes).
func newPipeline(cfg *config.Config, s stores, version string, opts ...Option) *Pipeline {
	p := &Pipeline{stores: s, cfg: cfg, version: version, now: time.Now, registries: map[string]registryClient{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Functions returns the handler's routes.
func (p *Pipeline) Functions() map[string]host.Func {
	return map[string]host.Func{
		FuncSweep:      p.Sweep,
		FuncListRepo:   p.ListRepo,
		FuncScan:       p.Scan,
		FuncAdvisories: p.Advisories,
	}
}

func (p *Pipeline) registry(host string) (registryClient, error) {
	c, ok := p.registries[host]
	if !ok {
		return nil, fmt.Errorf("registry %q is not configured in TIDEWATCH_REGISTRIES", host)
	}
	return c, nil
}

// advisories returns the index of every configured ecosystem of the current
// advisory data (see advisorySet), for work that needs them all; its folders are
// decoded once per generation and shared with the scans' on-demand indexes, and its
// Generation is the set's, as every index of the set reports.
func (p *Pipeline) advisories(ctx context.Context, log *slog.Logger) (*advisory.Index, error) {
	set, err := p.advisorySet(ctx, log)
	if err != nil {
		return nil, err
	}
	return set.Index(ctx, p.cfg.Ecosystems)
}

// advisorySet returns the current advisory data, whose folders load on demand. A
// missing or stale source is an error: scans fail instead of reporting "no
// findings". An http(s) TIDEWATCH_ADVISORIES_URL is what the advisories function
// syncs from: scans then read the current generation from the advisories blob
// container; a directory (dev.sh, tests) is read directly.
func (p *Pipeline) advisorySet(ctx context.Context, log *slog.Logger) (*advisorySet, error) {
	if isURL(p.cfg.AdvisoriesURL) {
		return p.generationSet(ctx, log)
	}
	return p.directorySet()
}

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

// directorySet opens a local OSV export once per process; its age is the oldest
// modification time of its archives, its generation a hash of their names, sizes
// and modification times (so a changed export is a new generation without
// reading it).
func (p *Pipeline) directorySet() (*advisorySet, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	retrieved, generation, err := directoryState(p.cfg.AdvisoriesURL, p.cfg.Ecosystems)
	if err != nil {
		return nil, err
	}
	if err := p.checkAge(retrieved); err != nil {
		return nil, err
	}
	if p.set == nil || p.set.generation != generation {
		src, err := advisory.Dir(p.cfg.AdvisoriesURL)
		if err != nil {
			return nil, fmt.Errorf("loading advisories from %s: %w", p.cfg.AdvisoriesURL, err)
		}
		p.set = &advisorySet{
			loader:     advisory.NewLoader(src, advisory.WithSeverityFolder(p.cfg.SeveritySource), advisory.WithGeneration(generation)),
			generation: generation,
			folders:    p.cfg.Ecosystems,
		}
	}
	return p.set, nil
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
func (p *Pipeline) generationSet(ctx context.Context, log *slog.Logger) (*advisorySet, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.set == nil || now.Sub(p.pointerReadAt) >= pointerRecheck {
		g, err := feed.OpenCurrent(ctx, p.advisoryBlobs)
		if errors.Is(err, feed.ErrNotFound) {
			return nil, fmt.Errorf("%w: the advisories function has not completed a sync into blob storage: %w", errNoGeneration, advisory.ErrNoAdvisories)
		}
		if err != nil {
			return nil, err
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
	}
	if err := p.checkAge(p.pointer.CheckedAt); err != nil {
		return nil, err
	}
	return p.set, nil
}

// checkAge fails when advisories last checked at checked are older than
// TIDEWATCH_MAX_DB_AGE by the pipeline's clock.
func (p *Pipeline) checkAge(checked time.Time) error {
	if age := p.now().Sub(checked); p.cfg.MaxDBAge > 0 && age > p.cfg.MaxDBAge {
		return fmt.Errorf("advisory data is stale: retrieved %s ago, TIDEWATCH_MAX_DB_AGE is %s: %w",
			age.Round(time.Minute), p.cfg.MaxDBAge, advisory.ErrNoAdvisories)
	}
	return nil
}

// isURL reports whether an advisory source is an http(s) base rather than a directory.
func isURL(source string) bool {
	return strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://")
}

// currentGeneration is the generation of the advisory data opened, or "" before
// the first use.
func (p *Pipeline) currentGeneration() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.set == nil {
		return ""
	}
	return p.set.generation
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
