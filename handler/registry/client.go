package registry

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// UserAgentProduct is the product token every Tidewatch registry request's
// User-Agent starts with, followed by "/" and a version.
const UserAgentProduct = "tidewatch"

// MaxPageSize is the largest page registries accept for _catalog and tags/list.
const MaxPageSize = 1000

// Client talks to one registry host. Build it once with New and share it: it is safe
// for concurrent use and reuses connections and authentication.
type Client struct {
	reg       name.Registry
	nameOpts  []name.Option
	auth      authn.Authenticator
	pageSize  int
	retry     RetryPolicy
	transport http.RoundTripper // User-Agent over Retry-After over the network
	puller    *remote.Puller    // per repository; used for Bearer registries (see handshake)
	scopes    authCache         // the ping's handshake and authenticated listing clients
}

// New returns a Client for host ("registry.example.com", "127.0.0.1:5000").
func New(host string, opts ...Option) (*Client, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("registry client for %s: %w", host, err)
	}
	var nameOpts []name.Option
	if cfg.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, append(nameOpts, name.StrictValidation)...)
	if err != nil {
		return nil, fmt.Errorf("registry client for %s: %w", host, err)
	}
	clock := cfg.retry.withDefaults().Now
	var wire http.RoundTripper = remote.DefaultTransport
	if cfg.maxInFlight > 0 {
		wire = newLimitTransport(wire, cfg.maxInFlight, clock)
	}
	network := &retryAfterTransport{inner: wire, now: clock}
	withUserAgent := transport.NewUserAgent(network, cfg.userAgent)
	auth, err := cfg.authenticator(reg, withUserAgent, clock)
	if err != nil {
		return nil, fmt.Errorf("registry client for %s: %w", host, err)
	}
	puller, err := newPuller(cfg, auth, network)
	if err != nil {
		return nil, fmt.Errorf("registry client for %s: %w", host, err)
	}
	return &Client{
		reg:       reg,
		nameOpts:  nameOpts,
		auth:      auth,
		pageSize:  cfg.pageSize,
		retry:     cfg.retry,
		transport: withUserAgent,
		puller:    puller,
	}, nil
}

// newConfig applies opts over the defaults and checks the result.
func newConfig(opts []Option) (config, error) {
	cfg := config{
		auth:      authn.Anonymous,
		userAgent: UserAgentProduct + "/" + moduleVersion(),
		pageSize:  MaxPageSize,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	if !strings.HasPrefix(cfg.userAgent, UserAgentProduct+"/") {
		return config{}, fmt.Errorf("user agent %q must start with %q", cfg.userAgent, UserAgentProduct+"/")
	}
	if cfg.maxInFlight < 0 {
		return config{}, fmt.Errorf("max concurrency %d is negative", cfg.maxInFlight)
	}
	if cfg.pageSize < 1 || cfg.pageSize > MaxPageSize {
		return config{}, fmt.Errorf("page size %d outside 1..%d", cfg.pageSize, MaxPageSize)
	}
	return cfg, nil
}

// newPuller returns the go-containerregistry puller every fetch goes through, over
// network and with go-containerregistry's own retries off.
func newPuller(cfg config, auth authn.Authenticator, network http.RoundTripper) (*remote.Puller, error) {
	return remote.NewPuller(
		remote.WithAuth(auth),
		remote.WithUserAgent(cfg.userAgent),
		remote.WithTransport(network),
		remote.WithPageSize(cfg.pageSize),
		// Our Retry owns retrying: go-containerregistry's ignores Retry-After and
		// sleeps without watching the context deadline.
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	)
}

// Host returns the registry host the Client talks to.
func (c *Client) Host() string { return c.reg.RegistryStr() }

// moduleVersion is the Tidewatch module version from the build, or "dev".
func moduleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" || info.Main.Version == "(devel)" {
		return "dev"
	}
	return info.Main.Version
}
