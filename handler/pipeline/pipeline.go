package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/registry"
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

	mu    sync.Mutex
	index *advisory.Index // loaded on first use, kept for the process (or generation); staleness checked per use
	// use names index's generation and its last check against the source; it
	// changes together with index, under mu.
	use advisoryUse
	// pointer is the generation index was loaded from and pointerReadAt when it was
	// last read (URL sources only).
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
		c, err := newRegistryClient(r, cfg.RegistryConcurrency, version, acrCredential, p.registryOpts...)
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

// advisories returns the advisory index. A missing, empty or stale index is an error:
// scans fail instead of reporting "no findings". An http(s) TIDEWATCH_ADVISORIES_URL
// is what the advisories function syncs from: scans then load the current generation
// from the advisories blob container; a directory (dev.sh, tests) is read directly.
func (p *Pipeline) advisories(ctx context.Context, log *slog.Logger) (*advisory.Index, error) {
	idx, _, err := p.advisoriesInUse(ctx, log)
	return idx, err
}

// advisoriesInUse is [Pipeline.advisories] with the generation the index is, read
// together with it (a generation switch never pairs one generation's name with
// another's records). When the data is stale the index is nil but the generation is
// still returned, so the failure can name it and its age.
func (p *Pipeline) advisoriesInUse(ctx context.Context, log *slog.Logger) (*advisory.Index, advisoryUse, error) {
	if isURL(p.cfg.AdvisoriesURL) {
		return p.generationIndex(ctx, log)
	}
	return p.directoryIndex(ctx, log)
}

// directoryIndex loads a local OSV export once per process; its age is the oldest
// modification time of its archives.
func (p *Pipeline) directoryIndex(ctx context.Context, log *slog.Logger) (*advisory.Index, advisoryUse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.index == nil {
		idx, err := advisory.Load(ctx, p.cfg.AdvisoriesURL, p.cfg.Ecosystems, advisory.WithSeverityFolder(p.cfg.SeveritySource))
		if err != nil {
			return nil, advisoryUse{}, fmt.Errorf("loading advisories from %s: %w", p.cfg.AdvisoriesURL, err)
		}
		log.Info("advisories loaded", "generation", idx.Generation(), "newest", idx.Newest())
		p.index = idx
		p.use.generation = idx.Generation()
	}
	retrieved, err := retrievedAt(p.cfg.AdvisoriesURL, p.cfg.Ecosystems)
	if err != nil {
		return nil, p.use, err
	}
	p.use.checkedAt = retrieved
	if err := p.checkAge(p.use); err != nil {
		return nil, p.use, err
	}
	return p.index, p.use, nil
}

// pointerRecheck is how long a loaded generation is used before current.json is
// read again: a new generation reaches scans within this time after a sync.
const pointerRecheck = 5 * time.Minute

// errNoGeneration reports that the advisories function has not completed a sync.
var errNoGeneration = errors.New("no advisory generation synced yet")

// generationIndex returns the current generation's index, loaded once per
// generation; the pointer is re-read at most every pointerRecheck. Freshness counts
// from the pointer's checkedAt (the last successful check against the source).
func (p *Pipeline) generationIndex(ctx context.Context, log *slog.Logger) (*advisory.Index, advisoryUse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.index == nil || now.Sub(p.pointerReadAt) >= pointerRecheck {
		g, err := feed.OpenCurrent(ctx, p.advisoryBlobs)
		if errors.Is(err, feed.ErrNotFound) {
			return nil, p.use, fmt.Errorf("%w: the advisories function has not completed a sync into blob storage: %w", errNoGeneration, advisory.ErrNoAdvisories)
		}
		if err != nil {
			return nil, p.use, err
		}
		if p.index == nil || g.Pointer.Generation != p.pointer.Generation {
			idx, err := g.Load(ctx, p.cfg.Ecosystems, advisory.WithSeverityFolder(p.cfg.SeveritySource))
			if err != nil {
				return nil, p.use, err
			}
			log.Info("advisory generation loaded", "generation", g.Pointer.Generation, "checkedAt", g.Pointer.CheckedAt)
			p.index = idx
		}
		p.pointer, p.pointerReadAt = g.Pointer, now
		p.use = advisoryUse{generation: g.Pointer.Generation, checkedAt: g.Pointer.CheckedAt}
	}
	if err := p.checkAge(p.use); err != nil {
		return nil, p.use, err
	}
	return p.index, p.use, nil
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

// currentGeneration is the loaded index's generation (as images rows record it), or
// "" before the first load.
func (p *Pipeline) currentGeneration() string {
	return p.loadedUse().generation
}

// retrievedAt is when the advisory data was last fetched: for a local directory the
// oldest modification time of its ecosystems' all.zip files. (The newest record's
// `modified` is no measure of freshness: a feed may go quiet for days.)
func retrievedAt(source string, ecosystems []string) (time.Time, error) {
	var oldest time.Time
	for _, eco := range ecosystems {
		info, err := os.Stat(filepath.Join(source, eco, "all.zip"))
		if err != nil {
			return time.Time{}, fmt.Errorf("checking age of %s advisories: %w: %w", eco, advisory.ErrNoAdvisories, err)
		}
		if oldest.IsZero() || info.ModTime().Before(oldest) {
			oldest = info.ModTime()
		}
	}
	return oldest, nil
}
