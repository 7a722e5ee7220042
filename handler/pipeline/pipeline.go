package pipeline

import (
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/loganalytics"
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
	acr          map[string]acrListing // the registries with auth acr
	version      string
	now          func() time.Time
	registryOpts []registry.Option
	// rematchPageSize is how many images rows a rematch task covers (0: the default).
	rematchPageSize int
	// scanReserve is the budget a batch scan task keeps back (0: the default).
	scanReserve time.Duration
	// inlineInventoryLimit bounds the gzipped inventory an images row keeps inline
	// (0: store.MaxInlineInventory).
	inlineInventoryLimit int
	// credential replaces the managed identity (WithCredential); logAnalyticsOpts
	// configure the Log Analytics client, pulls (nil without a workspace) and pullLog
	// where its answers are recorded.
	credential       azcore.TokenCredential
	logAnalyticsOpts []loganalytics.Option
	pulls            pullSource
	pullLog          pullLog

	mu  sync.Mutex
	set *advisorySet // opened on first use, kept for the process (or generation); staleness checked per use
	// use names set's generation and its last check against the source; it changes
	// together with set, under mu.
	use advisoryUse
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
	// One managed identity for every acr registry and Log Analytics, built only if
	// one of them is configured.
	acrCredential := sync.OnceValues(func() (azcore.TokenCredential, error) {
		if p.credential != nil {
			return p.credential, nil
		}
		return store.NewCredential(cfg.AzureClientID)
	})
	for _, r := range cfg.Registries {
		c, err := newRegistryClient(r, cfg.RegistryConcurrency, version, acrCredential, p.registryOpts...)
		if err != nil {
			return nil, fmt.Errorf("configuring registry %s: %w", r.Host, err)
		}
		p.registries[r.Host] = c
		if r.Auth == config.AuthACR {
			p.acr[r.Host] = c
		}
	}
	p.pullLog = st
	if cfg.LogAnalyticsWorkspaceID != "" {
		cred, err := acrCredential()
		if err != nil {
			return nil, fmt.Errorf("configuring log analytics: %w", err)
		}
		opts := append([]loganalytics.Option{loganalytics.WithOwnUserAgent(registry.UserAgentProduct + "/")}, p.logAnalyticsOpts...)
		if p.pulls, err = loganalytics.New(cred, cfg.LogAnalyticsWorkspaceID, opts...); err != nil {
			return nil, fmt.Errorf("configuring log analytics: %w", err)
		}
	}
	return p, nil
}

// newPipeline is a Pipeline over s with no registry clients yet (New adds them; unit
// tests add fakes).
func newPipeline(cfg *config.Config, s stores, version string, opts ...Option) *Pipeline {
	p := &Pipeline{stores: s, cfg: cfg, version: version, now: time.Now, registries: map[string]registryClient{}, acr: map[string]acrListing{}}
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
		FuncRematch:    p.Rematch,
		// registryevents (HTTP) is in HTTPFunctions.
		FuncRegistryEventsQueue: p.RegistryEventsQueue,
	}
}

func (p *Pipeline) registry(host string) (registryClient, error) {
	c, ok := p.registries[host]
	if !ok {
		return nil, fmt.Errorf("registry %q is not configured in TIDEWATCH_REGISTRIES", host)
	}
	return c, nil
}
