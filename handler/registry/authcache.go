package registry

import (
	"context"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxCachedScopes bounds authCache; past it the cache starts over.
const maxCachedScopes = 4096

// authCache keeps one authenticated HTTP client per token scope, so a sweep's many
// small ACR metadata calls do not each ping /v2/ and fetch a token. An access token
// that expires answers 401 with a challenge; go-containerregistry's bearer transport
// then fetches a new one (through the ACR refresh token, itself renewed by
// acrAuthenticator) and retries the request once.
type authCache struct {
	mu      sync.Mutex
	clients map[string]*http.Client
}

// authenticated returns an HTTP client holding a token for scope: a cached one when
// reuse is set and there is one, else a new one (cached when reuse is set).
func (c *Client) authenticated(ctx context.Context, scope string, reuse bool) (*http.Client, error) {
	if reuse {
		c.scopes.mu.Lock()
		hc, ok := c.scopes.clients[scope]
		c.scopes.mu.Unlock()
		if ok {
			return hc, nil
		}
	}
	rt, err := transport.NewWithContext(ctx, c.reg, c.auth, c.transport, []string{scope})
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: rt}
	if reuse {
		c.scopes.mu.Lock()
		if c.scopes.clients == nil || len(c.scopes.clients) >= maxCachedScopes {
			c.scopes.clients = map[string]*http.Client{}
		}
		c.scopes.clients[scope] = hc
		c.scopes.mu.Unlock()
	}
	return hc, nil
}
