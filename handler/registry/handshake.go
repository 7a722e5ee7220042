package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// handshake is what the Client's one /v2/ ping established.
type handshake struct {
	challenge *transport.Challenge
	// shared is, for a registry whose challenge is not Bearer (Basic, none), the one
	// authenticated transport every repository and scope uses: such a registry has no
	// per-scope tokens, so a handshake per repository would only ping /v2/ again (at
	// 1,000 repositories, 2,000 pings, each racing a TLS handshake against a
	// plain-HTTP registry). nil for Bearer, whose tokens are per scope.
	shared http.RoundTripper
	// puller fetches manifests and blobs: over shared when there is one, else the
	// Client's puller, which authenticates per repository.
	puller *remote.Puller
}

// newHandshake returns the handshake for the ping's challenge pr.
func (c *Client) newHandshake(pr *transport.Challenge) (*handshake, error) {
	if strings.EqualFold(pr.Scheme, "bearer") {
		return &handshake{challenge: pr, puller: c.puller}, nil
	}
	// For a challenge that is not Bearer, FromToken needs no token: it attaches the
	// Basic credentials (none for Anonymous) to this registry's requests. It returns
	// a *transport.Wrapper, which go-containerregistry's per-repository fetchers take
	// as authenticated already, so they do not ping.
	shared, err := transport.FromToken(c.reg, c.auth, c.transport, pr, &transport.Token{})
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", c.Host(), err)
	}
	// A Wrapper also keeps go-containerregistry from adding its own retries and
	// User-Agent: c.transport carries ours.
	puller, err := remote.NewPuller(remote.WithTransport(shared))
	if err != nil {
		return nil, fmt.Errorf("puller for %s: %w", c.Host(), err)
	}
	return &handshake{challenge: pr, shared: shared, puller: puller}, nil
}

// pullerFor returns the puller manifest and blob fetches go through, pinging first
// when the Client has not yet.
func (c *Client) pullerFor(ctx context.Context) (*remote.Puller, error) {
	hs, err := c.handshake(ctx)
	if err != nil {
		return nil, fmt.Errorf("authenticating: %w", err)
	}
	return hs.puller, nil
}

// ping GETs /v2/ for the registry's challenge. For a registry whose name says plain
// HTTP (loopback, private addresses, WithInsecure), go-containerregistry races
// https against http; the https attempt is refused before it dials, so that a
// plain-HTTP registry sees no TLS handshake, and every later request (whose URL
// has the name's scheme) goes where the ping did.
func (c *Client) ping(ctx context.Context) (*transport.Challenge, error) {
	if c.reg.Scheme() != "http" {
		return transport.Ping(ctx, c.reg, c.transport)
	}
	rt := &plainHTTPOnly{host: c.reg.RegistryStr(), inner: c.transport}
	pr, err := transport.Ping(ctx, c.reg, rt)
	if err != nil {
		return nil, rt.cause(err)
	}
	return pr, nil
}

// plainHTTPOnly fails https requests to host without sending them, and keeps the
// error of the request it did send.
type plainHTTPOnly struct {
	host  string
	inner http.RoundTripper

	mu      sync.Mutex
	sendErr error // as http.Client reports it
}

func (t *plainHTTPOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" && req.URL.Host == t.host {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("https not tried: %s is reached over plain HTTP", t.host)
	}
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		t.mu.Lock()
		t.sendErr = &url.Error{Op: "Get", URL: req.URL.String(), Err: err} // the ping's GET
		t.mu.Unlock()
	}
	return resp, err
}

// cause returns the plain-HTTP attempt's part of the failed ping pingErr.
// go-containerregistry reports both attempts, the refused https one first, which
// would hide the kind of the one that was sent (a cut connection, a timeout) from
// errors.As and put an https URL in the message.
func (t *plainHTTPOnly) cause(pingErr error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sendErr != nil {
		return t.sendErr
	}
	var answered *transport.Error // the registry answered, with neither 200 nor 401
	if errors.As(pingErr, &answered) {
		return answered
	}
	return pingErr
}
