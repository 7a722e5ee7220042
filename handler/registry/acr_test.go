package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

func TestACRListsAndResolvesWithAManagedIdentity(t *testing.T) {
	clock := testenv.NewClock(acrEpoch)
	f := startFakeACR(t, clock.Now)
	cred := &fakeCredential{token: f.aadToken}
	c := newACRClient(t, f, cred, clock)
	ctx := context.Background()

	repos, err := c.Repositories(ctx)
	if err != nil {
		t.Fatalf("listing repositories: %v", err)
	}
	if diff := cmp.Diff([]string{"team/api"}, repos); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	m, err := c.Resolve(ctx, "team/api", "1")
	if err != nil {
		t.Fatalf("resolving team/api:1: %v", err)
	}
	if got, want := m.Digest.String(), sha256Digest(manifestBody); got != want {
		t.Errorf("digest = %s, want %s", got, want)
	}

	if got := f.exchangeCount(); got != 1 {
		t.Errorf("/oauth2/exchange called %d times, want 1 (the refresh token is cached)", got)
	}
	if diff := cmp.Diff([][]string{{"https://containerregistry.azure.net/.default"}}, cred.calls()); diff != "" {
		t.Errorf("Entra ID token requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"registry:catalog:*", "repository:team/api:pull"}, f.askedScopes()); diff != "" {
		t.Errorf("scopes asked of /oauth2/token (-want +got):\n%s", diff)
	}
	for _, ua := range f.exchangeAgents {
		if !strings.HasPrefix(ua, "tidewatch/acr-test") {
			t.Errorf("exchange User-Agent = %q, want the tidewatch product first", ua)
		}
	}
}

func TestACRRefreshTokenIsReplacedShortlyBeforeItExpires(t *testing.T) {
	type step struct {
		after         time.Duration // since the first call
		wantExchanges int
	}
	tests := []struct {
		name   string
		opaque bool
		steps  []step
	}{
		{
			// The fake's JWT expires 3 h after issue; it is replaced 5 min early.
			name:  "a JWT refresh token is reused until five minutes before its exp",
			steps: []step{{0, 1}, {2 * time.Hour, 1}, {2*time.Hour + 54*time.Minute, 1}, {2*time.Hour + 56*time.Minute, 2}, {4 * time.Hour, 2}},
		},
		{
			// The spec example's token has no readable exp: one hour is assumed.
			name:   "an opaque refresh token is assumed to last an hour",
			opaque: true,
			steps:  []step{{0, 1}, {54 * time.Minute, 1}, {56 * time.Minute, 2}, {100 * time.Minute, 2}, {112 * time.Minute, 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testenv.NewClock(acrEpoch)
			f := startFakeACR(t, clock.Now)
			f.opaque = tt.opaque
			c := newACRClient(t, f, &fakeCredential{token: f.aadToken}, clock)
			for _, s := range tt.steps {
				clock.Set(acrEpoch.Add(s.after))
				if _, err := c.Repositories(context.Background()); err != nil {
					t.Fatalf("at +%s: %v", s.after, err)
				}
				if got := f.exchangeCount(); got != s.wantExchanges {
					t.Errorf("at +%s: %d exchanges, want %d", s.after, got, s.wantExchanges)
				}
			}
		})
	}
}

func TestACRConcurrentCallersShareOneExchange(t *testing.T) {
	clock := testenv.NewClock(acrEpoch)
	f := startFakeACR(t, clock.Now)
	const callers = 8
	// Every listing pings first, then asks for authorization: holding the first
	// exchange until all have pinged puts them all in the authenticator at once.
	f.exchangeGate, f.pingsToOpen = make(chan struct{}), callers
	c := newACRClient(t, f, &fakeCredential{token: f.aadToken}, clock)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, err := c.Repositories(context.Background())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("listing: %v", err)
		}
	}
	if got := f.exchangeCount(); got != 1 {
		t.Errorf("%d concurrent listings made %d exchanges, want 1", callers, got)
	}
}

func TestACRAuthenticationFailures(t *testing.T) {
	const aadFailure = "ManagedIdentityCredential: no managed identity endpoint is available"
	tests := []struct {
		name          string
		credErr       error
		onExchange    func(aadToken string) func(n int, w http.ResponseWriter) bool
		wantStatus    int
		wantTransient bool
		wantInMessage []string
	}{
		{
			name:          "an Entra ID failure is permanent and says what failed",
			credErr:       errors.New(aadFailure),
			wantInMessage: []string{"Entra ID token", aadFailure},
		},
		{
			name: "an exchange rejected with 401 is permanent",
			onExchange: func(string) func(int, http.ResponseWriter) bool {
				return func(_ int, w http.ResponseWriter) bool {
					acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "identity has no access to the registry")
					return true
				}
			},
			wantStatus:    http.StatusUnauthorized,
			wantInMessage: []string{"exchanging the Entra ID token", "/oauth2/exchange", "UNAUTHORIZED"},
		},
		{
			name: "an exchange error that echoes the token in its details does not leak it",
			onExchange: func(aadToken string) func(int, http.ResponseWriter) bool {
				return func(_ int, w http.ResponseWriter) bool {
					w.WriteHeader(http.StatusUnauthorized)
					fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token rejected","detail":{"access_token":%q}}]}`, aadToken)
					return true
				}
			},
			wantStatus:    http.StatusUnauthorized,
			wantInMessage: []string{"UNAUTHORIZED"},
		},
		{
			name: "an exchange error with a plain-text body that echoes the token does not leak it",
			onExchange: func(aadToken string) func(int, http.ResponseWriter) bool {
				return func(_ int, w http.ResponseWriter) bool {
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, "bad access_token="+aadToken)
					return true
				}
			},
			wantStatus:    http.StatusBadRequest,
			wantInMessage: []string{"400"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testenv.NewClock(acrEpoch)
			f := startFakeACR(t, clock.Now)
			if tt.onExchange != nil {
				f.onExchange = tt.onExchange(f.aadToken)
			}
			cred := &fakeCredential{token: f.aadToken, err: tt.credErr}
			c := newACRClient(t, f, cred, clock)
			ctx := context.Background()
			_, listErr := c.Repositories(ctx)
			// A permanent failure is not retried: one attempt for the listing.
			if tt.credErr != nil {
				if got := len(cred.calls()); got != 1 {
					t.Errorf("Entra ID token requested %d times for one listing, want 1", got)
				}
			} else if got := f.exchangeCount(); got != 1 {
				t.Errorf("%d exchanges for one listing, want 1", got)
			}
			_, resolveErr := c.Resolve(ctx, "team/api", "1")
			for _, check := range []struct {
				op  string
				err error
			}{{"list repositories", listErr}, {"resolve", resolveErr}} {
				if check.err == nil {
					t.Fatalf("%s succeeded", check.op)
				}
				if got := registry.IsTransient(check.err); got != tt.wantTransient {
					t.Errorf("%s: IsTransient(%v) = %v, want %v", check.op, check.err, got, tt.wantTransient)
				}
				var re *registry.Error
				if !errors.As(check.err, &re) || re.Status != tt.wantStatus {
					t.Errorf("%s: %v is not a *registry.Error with status %d", check.op, check.err, tt.wantStatus)
				}
				msg := check.err.Error()
				for _, want := range append([]string{check.op, f.host}, tt.wantInMessage...) {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: message %q does not contain %q", check.op, msg, want)
					}
				}
				for _, secret := range append(f.issuedTokens(), f.aadToken) {
					if strings.Contains(msg, secret) {
						t.Errorf("%s: message %q leaks token %q", check.op, msg, secret)
					}
				}
			}
		})
	}
}

func TestACRExchangeServerErrorIsRetried(t *testing.T) {
	clock := testenv.NewClock(acrEpoch)
	f := startFakeACR(t, clock.Now)
	f.onExchange = func(n int, w http.ResponseWriter) bool {
		if n > 1 {
			return false
		}
		acrError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "try again")
		return true
	}
	c := newACRClient(t, f, &fakeCredential{token: f.aadToken}, clock)
	if _, err := c.Repositories(context.Background()); err != nil {
		t.Fatalf("listing after one 503 from /oauth2/exchange: %v", err)
	}
	if got := f.exchangeCount(); got != 2 {
		t.Errorf("%d exchanges, want 2 (a 503, then success)", got)
	}
}

func TestNewRejectsANilACRCredential(t *testing.T) {
	if _, err := registry.New("contoso.azurecr.io", registry.WithACRCredential(nil)); err == nil {
		t.Fatal("New accepted WithACRCredential(nil)")
	}
}
