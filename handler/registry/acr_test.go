package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// acrExample is one x-ms-examples file of the ACR data-plane swagger.
type acrExample struct {
	Parameters map[string]string `json:"parameters"`
	Responses  map[string]struct {
		Body map[string]string `json:"body"`
	} `json:"responses"`
}

func loadACRExample(t *testing.T, file string) acrExample {
	t.Helper()
	path := filepath.Join(testenv.Shared(t), "azure-specs", "acr-dataplane", "examples", file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ex acrExample
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return ex
}

// manifestBody is the tiny image manifest the fake serves as team/api:1.
const manifestBody = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,` +
	`"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}`

// fakeACR serves ACR's token endpoints and a registry that demands the access
// tokens they issue, following azure-specs/acr-dataplane (AAD-OAuth.md and the
// PostRefreshToken/PostAccessToken examples).
type fakeACR struct {
	host       string
	aadToken   string // the Entra ID token /oauth2/exchange accepts
	refreshEx  acrExample
	accessEx   acrExample
	now        func() time.Time
	opaque     bool                                    // issue the example's opaque refresh token instead of a JWT
	onExchange func(n int, w http.ResponseWriter) bool // answers the n-th exchange itself when it returns true
	// exchangeGate, when set, holds every exchange until it is closed, which
	// happens when pingsToOpen unauthenticated pings have arrived.
	exchangeGate chan struct{}
	pingsToOpen  int

	mu             sync.Mutex
	exchanges      int
	exchangeAgents []string
	pings          int
	refreshTokens  map[string]bool
	accessScopes   map[string]string // access token → scope it grants
	scopes         []string          // scopes asked of /oauth2/token, in order
	issued         []string          // every token handed out
}

func startFakeACR(t *testing.T, now func() time.Time) *fakeACR {
	t.Helper()
	f := &fakeACR{
		refreshEx:     loadACRExample(t, "PostRefreshToken.json"),
		accessEx:      loadACRExample(t, "PostAccessToken.json"),
		now:           now,
		refreshTokens: map[string]bool{},
		accessScopes:  map[string]string{},
	}
	f.aadToken = f.refreshEx.Parameters["access_token"]
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/exchange", f.exchange)
	mux.HandleFunc("POST /oauth2/token", f.token)
	mux.HandleFunc("/v2/", f.registry)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.host = strings.TrimPrefix(srv.URL, "http://")
	return f
}

func (f *fakeACR) exchange(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.exchanges++
	n := f.exchanges
	f.exchangeAgents = append(f.exchangeAgents, r.UserAgent())
	f.mu.Unlock()
	if f.exchangeGate != nil {
		select {
		case <-f.exchangeGate:
		case <-time.After(10 * time.Second): // the callers never all arrived; the count will tell
		}
	}
	if f.onExchange != nil && f.onExchange(n, w) {
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "form expected")
		return
	}
	switch {
	case r.PostForm.Get("grant_type") != f.refreshEx.Parameters["grant_type"],
		r.PostForm.Get("service") != f.host,
		r.PostForm.Has("tenant") && r.PostForm.Get("tenant") == "":
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "bad grant_type, service or tenant")
		return
	case r.PostForm.Get("access_token") != f.aadToken:
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad AAD token")
		return
	}
	token := f.refreshEx.Responses["200"].Body["refresh_token"]
	if !f.opaque {
		token = f.jwt(3 * time.Hour)
	}
	f.mu.Lock()
	f.refreshTokens[token] = true
	f.issued = append(f.issued, token)
	f.mu.Unlock()
	writeJSON(w, withValue(f.refreshEx.Responses["200"].Body, "refresh_token", token))
}

func (f *fakeACR) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "form expected")
		return
	}
	scope := r.PostForm.Get("scope")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = append(f.scopes, scope)
	switch {
	case r.PostForm.Get("grant_type") != f.accessEx.Parameters["grant_type"],
		r.PostForm.Get("service") != f.host,
		scope == "":
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "bad grant_type, service or scope")
		return
	case !f.refreshTokens[r.PostForm.Get("refresh_token")]:
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad refresh token")
		return
	}
	access := fmt.Sprintf("acr-access-%d", len(f.accessScopes)+1)
	f.accessScopes[access] = scope
	f.issued = append(f.issued, access)
	writeJSON(w, withValue(f.accessEx.Responses["200"].Body, "access_token", access))
}

// registry serves /v2/ (ping), _catalog and one manifest, each behind its scope.
func (f *fakeACR) registry(w http.ResponseWriter, r *http.Request) {
	var scope string
	switch r.URL.Path {
	case "/v2/":
	case "/v2/_catalog":
		scope = "registry:catalog:*"
	case "/v2/team/api/manifests/1":
		scope = "repository:team/api:pull"
	default:
		acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "no such repository")
		return
	}
	if !f.authorized(r, scope) {
		if r.URL.Path == "/v2/" {
			f.countPing()
		}
		challenge := fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s"`, f.host, f.host)
		if scope != "" {
			challenge += fmt.Sprintf(`,scope="%s"`, scope)
		}
		w.Header().Set("Www-Authenticate", challenge)
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	switch r.URL.Path {
	case "/v2/":
		writeJSON(w, map[string]string{})
	case "/v2/_catalog":
		writeJSON(w, map[string][]string{"repositories": {"team/api"}})
	default:
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", sha256Digest(manifestBody))
		w.Header().Set("Content-Length", fmt.Sprint(len(manifestBody)))
		if r.Method != http.MethodHead {
			io.WriteString(w, manifestBody)
		}
	}
}

// authorized reports whether r carries an access token granting scope; the ping
// (scope "") needs any token the fake issued.
func (f *fakeACR) authorized(r *http.Request, scope string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	granted, ok := f.accessScopes[token]
	return ok && (scope == "" || strings.Contains(" "+granted+" ", " "+scope+" "))
}

// jwt returns an unsigned token with the ACR refresh-token claim set of AAD-OAuth.md,
// issued now by the fake's clock and expiring after lifetime.
func (f *fakeACR) jwt(lifetime time.Duration) string {
	now := f.now()
	claims, _ := json.Marshal(map[string]any{
		"jti": fmt.Sprintf("%d", now.UnixNano()), "sub": "tidewatch-identity",
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(lifetime).Unix(),
		"iss": "Azure Container Registry", "aud": f.host, "version": "1.0",
		"grant_type": "refresh_token", "permissions": map[string]any{"actions": []string{"*"}, "notActions": []string{}},
		"roles": []string{},
	})
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims) + ".c2lnbmF0dXJl"
}

func (f *fakeACR) countPing() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pings++
	if f.exchangeGate != nil && f.pings == f.pingsToOpen {
		close(f.exchangeGate)
	}
}

func (f *fakeACR) exchangeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges
}

func (f *fakeACR) askedScopes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.scopes...)
}

func (f *fakeACR) issuedTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.issued...)
}

func acrError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, registryError(code, message))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// withValue copies an example body, which fixes the response's shape, with key set.
func withValue(body map[string]string, key, value string) map[string]string {
	out := map[string]string{}
	for k, v := range body {
		out[k] = v
	}
	out[key] = value
	return out
}

func sha256Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fakeCredential is an azcore.TokenCredential that hands out one token or error.
type fakeCredential struct {
	token string
	err   error

	mu     sync.Mutex
	scopes [][]string
}

func (c *fakeCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, opts.Scopes)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *fakeCredential) calls() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.scopes...)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var acrEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newACRClient returns a Client for f authenticated with cred, on clock.
func newACRClient(t *testing.T, f *fakeACR, cred azcore.TokenCredential, clock *fakeClock) *registry.Client {
	t.Helper()
	var s sleeps
	policy := fastRetry(&s)
	policy.Now = clock.Now
	c, err := registry.New(f.host, registry.WithACRCredential(cred), registry.WithRetry(policy), registry.WithUserAgent("tidewatch/acr-test"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestACRListsAndResolvesWithAManagedIdentity(t *testing.T) {
	clock := &fakeClock{now: acrEpoch}
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
			clock := &fakeClock{now: acrEpoch}
			f := startFakeACR(t, clock.Now)
			f.opaque = tt.opaque
			c := newACRClient(t, f, &fakeCredential{token: f.aadToken}, clock)
			for _, s := range tt.steps {
				clock.set(acrEpoch.Add(s.after))
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
	clock := &fakeClock{now: acrEpoch}
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
			clock := &fakeClock{now: acrEpoch}
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
	clock := &fakeClock{now: acrEpoch}
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
