package registry

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Option configures a Client.
type Option func(*config)

type config struct {
	auth      authn.Authenticator // nil: WithACRCredential came last
	acrCred   azcore.TokenCredential
	userAgent string
	pageSize  int
	retry     RetryPolicy
	insecure  bool
	// maxInFlight bounds the requests in flight; 0 means no bound.
	maxInFlight int
}

// WithBasicAuth authenticates with a username and password (HTTP basic, or the
// token exchange a Bearer challenge asks for).
func WithBasicAuth(username, password string) Option {
	return func(c *config) {
		c.auth = &authn.Basic{Username: username, Password: password}
	}
}

// WithAnonymous sends no credentials. It is the default.
func WithAnonymous() Option {
	return func(c *config) { c.auth = authn.Anonymous }
}

// WithACRCredential authenticates to Azure Container Registry with an Entra ID
// credential (in Azure, the app's managed identity, which needs AcrPull). The
// Client exchanges the credential's token for an ACR refresh token at
// /oauth2/exchange through its own transport and User-Agent, caches it until
// shortly before it expires (judged by the RetryPolicy clock), and
// go-containerregistry trades it for scoped access tokens at /oauth2/token. As with
// the other authentication options, the last one given wins.
func WithACRCredential(cred azcore.TokenCredential) Option {
	return func(c *config) {
		c.auth = nil
		c.acrCred = cred
	}
}

// WithUserAgent sets the User-Agent product, which must start with "tidewatch/"
// (UserAgentProduct + "/"): activity tracking relies on it to ignore our own pulls.
// The default is "tidewatch/<module version>". go-containerregistry appends its own
// product after it.
func WithUserAgent(ua string) Option {
	return func(c *config) { c.userAgent = ua }
}

// WithPageSize sets the n sent to _catalog and tags/list (default and maximum 1000:
// registries reject larger pages with 400).
func WithPageSize(n int) Option {
	return func(c *config) { c.pageSize = n }
}

// WithRetry sets the policy every Client operation is retried with.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) { c.retry = p }
}

// WithInsecure talks plain HTTP to the registry. Loopback and private addresses use
// HTTP anyway; this is for other plain-HTTP development registries.
func WithInsecure() Option {
	return func(c *config) { c.insecure = true }
}

// WithMaxConcurrency bounds the requests the Client has in flight to its registry at
// n (listing pages, HEADs, manifests, blobs, token exchanges; a streamed blob holds
// its slot until its body is closed). A 429 with Retry-After also pauses every new
// request of the Client until that time. Without it, requests are not bounded.
func WithMaxConcurrency(n int) Option {
	return func(c *config) { c.maxInFlight = n }
}
