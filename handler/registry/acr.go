package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// acrScope is the Entra ID scope of the token ACR's /oauth2/exchange accepts.
const acrScope = "https://containerregistry.azure.net/.default"

const (
	// acrTokenUsername is the null GUID ACR expects beside a refresh token.
	acrTokenUsername = "00000000-0000-0000-0000-000000000000"
	// acrDefaultLifetime is assumed when a refresh token carries no readable exp.
	acrDefaultLifetime = time.Hour
	// acrRefreshMargin is how long before expiry a refresh token is replaced, so a
	// token handed out is still good for the /oauth2/token call that follows.
	acrRefreshMargin = 5 * time.Minute
	// maxTokenResponseBytes bounds the /oauth2/exchange response.
	maxTokenResponseBytes = 1 << 20
)

// acrAuthenticator turns an Entra ID credential into ACR refresh tokens
// (POST /oauth2/exchange) and hands them to go-containerregistry as an identity
// token, which its bearer transport trades for scoped access tokens at
// /oauth2/token. The refresh token is cached until shortly before it expires.
// It is safe for concurrent use; concurrent callers share one exchange.
type acrAuthenticator struct {
	service     string // the registry host, ACR's "service"
	exchangeURL string
	cred        azcore.TokenCredential
	client      *http.Client
	now         func() time.Time

	// lock is a one-slot semaphore rather than a mutex so that waiting for
	// another caller's exchange still honours the waiter's context.
	lock      chan struct{}
	token     string
	refreshAt time.Time
}

var (
	_ authn.Authenticator        = (*acrAuthenticator)(nil)
	_ authn.ContextAuthenticator = (*acrAuthenticator)(nil)
)

// newACRAuthenticator returns an authenticator for reg whose exchange requests go
// through rt (the Client's User-Agent and Retry-After layers) and whose token
// expiry is judged by now.
func newACRAuthenticator(reg name.Registry, cred azcore.TokenCredential, rt http.RoundTripper, now func() time.Time) *acrAuthenticator {
	u := url.URL{Scheme: reg.Scheme(), Host: reg.RegistryStr(), Path: "/oauth2/exchange"}
	return &acrAuthenticator{
		service:     reg.RegistryStr(),
		exchangeURL: u.String(),
		cred:        cred,
		client: &http.Client{
			Transport: rt,
			// A redirect would carry the Entra ID token to wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:  now,
		lock: make(chan struct{}, 1),
	}
}

// Authorization implements authn.Authenticator.
func (a *acrAuthenticator) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

// AuthorizationContext implements authn.ContextAuthenticator: it returns the cached
// ACR refresh token as an identity token, exchanging a fresh Entra ID token first
// when there is none or it is about to expire.
func (a *acrAuthenticator) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the ACR refresh token for %s: %w", a.service, ctx.Err())
	}
	defer func() { <-a.lock }()

	if now := a.now(); a.token == "" || !now.Before(a.refreshAt) {
		token, err := a.exchange(ctx)
		if err != nil {
			return nil, err
		}
		a.token, a.refreshAt = token, refreshTime(now, tokenExpiry(token, now))
	}
	return &authn.AuthConfig{Username: acrTokenUsername, IdentityToken: a.token}, nil
}

// exchange gets an Entra ID token from the credential and trades it for an ACR
// refresh token.
func (a *acrAuthenticator) exchange(ctx context.Context) (string, error) {
	aad, err := a.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrScope}})
	if err != nil {
		return "", fmt.Errorf("getting an Entra ID token for ACR %s: %w", a.service, err)
	}
	form := url.Values{
		"grant_type":   {"access_token"},
		"service":      {a.service},
		"access_token": {aad.Token},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.exchangeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("exchanging the Entra ID token at %s: %w", a.exchangeURL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := a.client.Do(req)
	if err != nil {
		// *url.Error names only the URL; the token travels in the body.
		return "", fmt.Errorf("exchanging the Entra ID token at %s: %w", a.exchangeURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes))
	if err != nil {
		return "", fmt.Errorf("reading the ACR refresh token from %s: %w", a.exchangeURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("exchanging the Entra ID token at %s: %w", a.exchangeURL, exchangeError(resp.StatusCode, body))
	}
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("decoding the ACR refresh token from %s: %w", a.exchangeURL, err)
	}
	if out.RefreshToken == "" {
		return "", fmt.Errorf("decoding the ACR refresh token from %s: %w", a.exchangeURL, errors.New("no refresh_token in the response"))
	}
	return out.RefreshToken, nil
}

// exchangeError describes a failed exchange by status and the registry's error
// codes and messages only: details and unparsed bodies are left out so that
// nothing the server echoes back can leak a token into logs.
func exchangeError(status int, body []byte) error {
	var acr struct {
		Errors []transport.Diagnostic `json:"errors"`
	}
	_ = json.Unmarshal(body, &acr) // a body that is not AcrErrors just goes unnamed
	diags := make([]transport.Diagnostic, 0, len(acr.Errors))
	for _, d := range acr.Errors {
		diags = append(diags, transport.Diagnostic{Code: d.Code, Message: d.Message})
	}
	return &transport.Error{StatusCode: status, Errors: diags}
}

// tokenExpiry reads the exp claim of a JWT without verifying it (the registry that
// issued it is the one that checks it), or assumes acrDefaultLifetime from now.
func tokenExpiry(token string, now time.Time) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) == 3 {
		payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
		var claims struct {
			Exp json.Number `json:"exp"`
		}
		if err == nil && json.Unmarshal(payload, &claims) == nil {
			if exp, err := claims.Exp.Int64(); err == nil && exp > 0 {
				return time.Unix(exp, 0)
			}
		}
	}
	return now.Add(acrDefaultLifetime)
}

// refreshTime is when a token obtained at now and expiring at expiry should be
// replaced: acrRefreshMargin early, or halfway through a shorter lifetime.
func refreshTime(now, expiry time.Time) time.Time {
	return expiry.Add(-min(acrRefreshMargin, expiry.Sub(now)/2))
}

// authenticator is the Authenticator New gives go-containerregistry: the one an
// option chose, or, when WithACRCredential came last, an ACR exchange bound to reg
// whose requests go through rt and whose expiry is judged by now.
func (c *config) authenticator(reg name.Registry, rt http.RoundTripper, now func() time.Time) (authn.Authenticator, error) {
	if c.auth != nil {
		return c.auth, nil
	}
	if c.acrCred == nil {
		return nil, errors.New("WithACRCredential was given a nil credential")
	}
	return newACRAuthenticator(reg, c.acrCred, rt, now), nil
}
