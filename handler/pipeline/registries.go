package pipeline

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// newRegistryClient builds the client for one configured registry, with at most
// concurrency requests in flight to it (0: unbounded). acrCredential
// is called only for acr registries and should return the process's one credential.
func newRegistryClient(r config.Registry, concurrency int, version string, acrCredential func() (azcore.TokenCredential, error), extra ...registry.Option) (*registry.Client, error) {
	opts := []registry.Option{registry.WithUserAgent(registry.UserAgentProduct + "/" + version)}
	if concurrency > 0 {
		opts = append(opts, registry.WithMaxConcurrency(concurrency))
	}
	switch r.Auth {
	case config.AuthBasic:
		opts = append(opts, registry.WithBasicAuth(r.Username, r.Password.Reveal()))
	case config.AuthAnonymous:
		opts = append(opts, registry.WithAnonymous())
	case config.AuthACR:
		cred, err := acrCredential()
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", r.Host, err)
		}
		opts = append(opts, registry.WithACRCredential(cred))
	default:
		return nil, fmt.Errorf("registry %s: unknown auth mode %q (use acr, basic or anonymous)", r.Host, r.Auth)
	}
	if registry.IsLoopback(r.Host) {
		opts = append(opts, registry.WithInsecure())
	}
	return registry.New(r.Host, append(opts, extra...)...)
}
