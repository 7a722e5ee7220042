package pipeline

import (
	"fmt"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// newRegistryClient builds the client for one configured registry.
func newRegistryClient(r config.Registry, version string, extra ...registry.Option) (*registry.Client, error) {
	opts := []registry.Option{registry.WithUserAgent(registry.UserAgentProduct + "/" + version)}
	switch r.Auth {
	case config.AuthBasic:
		opts = append(opts, registry.WithBasicAuth(r.Username, r.Password.Reveal()))
	case config.AuthAnonymous:
		opts = append(opts, registry.WithAnonymous())
	default:
		return nil, fmt.Errorf("registry %s: auth mode %q is not supported yet (use basic or anonymous)", r.Host, r.Auth)
	}
	if registry.IsLoopback(r.Host) {
		opts = append(opts, registry.WithInsecure())
	}
	return registry.New(r.Host, append(opts, extra...)...)
}
