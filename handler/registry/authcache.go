package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxCachedScopes bounds authCache; past it the cache starts over.
const maxCachedScopes = 4096

// authCache keeps one authenticated HTTP client per token scope, so a sweep's many
// small ACR metadata calls do not each fetch a token, and the registry's /v2/
// challenge, so that a new scope costs one token request and no ping (a sweep of
// 1,000 ACR repositories: 1,000 attribute reads and 1,000 tokens, not also 1,000
// pings). An access token that expires answers 401 with a challenge naming its scope;
// go-containerregistry's bearer transport then fetches a new one (through the ACR
// refresh token, itself renewed by acrAuthenticator) and retries the request once.
type authCache struct {
	mu        sync.Mutex
	clients   map[string]*http.Client
	challenge *transport.Challenge // the /v2/ ping's, once one succeeded
	pinging   sync.Mutex           // one ping at a time: concurrent first calls share it
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
	rt, err := c.scopedTransport(ctx, scope)
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

// scopedTransport returns a transport holding a token for scope: for a registry
// whose challenge is Bearer, the token fetched with the cached challenge; for any
// other (Basic, none), go-containerregistry's handshake.
func (c *Client) scopedTransport(ctx context.Context, scope string) (http.RoundTripper, error) {
	pr, err := c.challenge(ctx)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(pr.Scheme, "bearer") {
		return transport.NewWithContext(ctx, c.reg, c.auth, c.transport, []string{scope})
	}
	tok, err := transport.Exchange(ctx, c.reg, c.auth, c.transport, []string{scope}, pr)
	if err != nil {
		return nil, err
	}
	if tok.Token == "" { // ACR answers access_token, as some others do
		tok.Token = tok.AccessToken
	}
	return transport.FromToken(c.reg, c.auth, c.transport, pr, tok)
}

// challenge returns the registry's /v2/ challenge, pinging once per Client (again
// after a failed ping).
func (c *Client) challenge(ctx context.Context) (*transport.Challenge, error) {
	cached := func() *transport.Challenge {
		c.scopes.mu.Lock()
		defer c.scopes.mu.Unlock()
		return c.scopes.challenge
	}
	if pr := cached(); pr != nil {
		return pr, nil
	}
	c.scopes.pinging.Lock()
	defer c.scopes.pinging.Unlock()
	if pr := cached(); pr != nil { // pinged while this call waited
		return pr, nil
	}
	pr, err := transport.Ping(ctx, c.reg, c.transport)
	if err != nil {
		return nil, err
	}
	c.scopes.mu.Lock()
	c.scopes.challenge = pr
	c.scopes.mu.Unlock()
	return pr, nil
}
