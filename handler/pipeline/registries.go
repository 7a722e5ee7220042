package pipeline

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// newRegistryClient builds the client for one configured registry. acrCredential
// is called only for acr registries and should return the process's one credential.
func newRegistryClient(r config.Registry, version string, acrCredential func() (azcore.TokenCredential, error), extra ...registry.Option) (*registry.Client, error) {
	opts := []registry.Option{registry.WithUserAgent(registry.UserAgentProduct + "/" + version)}
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
