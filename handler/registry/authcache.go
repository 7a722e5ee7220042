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
// small ACR metadata calls do not each fetch a token, and the registry's /v2/
// challenge, so that a new scope costs one token request and no ping (a sweep of
// 1,000 ACR repositories: 1,000 attribute reads and 1,000 tokens, not also 1,000
// pings). An access token that expires answers 401 with a challenge naming its scope;
// go-containerregistry's bearer transport then fetches a new one (through the ACR
// refresh token, itself renewed by acrAuthenticator) and retries the request once.
// A registry that is not Bearer has no per-scope tokens: every scope gets the
// handshake's one shared transport.
type authCache struct {
	mu        sync.Mutex
	clients   map[string]*http.Client
	handshake *handshake // the /v2/ ping's, once one succeeded
	pinging   sync.Mutex // one ping at a time: concurrent first calls share it
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
// other (Basic, none), the one transport every scope shares.
func (c *Client) scopedTransport(ctx context.Context, scope string) (http.RoundTripper, error) {
	hs, err := c.handshake(ctx)
	if err != nil {
		return nil, err
	}
	if hs.shared != nil {
		return hs.shared, nil
	}
	tok, err := transport.Exchange(ctx, c.reg, c.auth, c.transport, []string{scope}, hs.challenge)
	if err != nil {
		return nil, err
	}
	if tok.Token == "" { // ACR answers access_token, as some others do
		tok.Token = tok.AccessToken
	}
	return transport.FromToken(c.reg, c.auth, c.transport, hs.challenge, tok)
}

// handshake returns what the registry's /v2/ ping established, pinging once per
// Client (again after a failed ping).
func (c *Client) handshake(ctx context.Context) (*handshake, error) {
	cached := func() *handshake {
		c.scopes.mu.Lock()
		defer c.scopes.mu.Unlock()
		return c.scopes.handshake
	}
	if hs := cached(); hs != nil {
		return hs, nil
	}
	c.scopes.pinging.Lock()
	defer c.scopes.pinging.Unlock()
	if hs := cached(); hs != nil { // pinged while this call waited
		return hs, nil
	}
	pr, err := c.ping(ctx)
	if err != nil {
		return nil, err
	}
	hs, err := c.newHandshake(pr)
	if err != nil {
		return nil, err
	}
	c.scopes.mu.Lock()
	c.scopes.handshake = hs
	c.scopes.mu.Unlock()
	return hs, nil
}
