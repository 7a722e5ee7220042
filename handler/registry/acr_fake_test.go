package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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

var acrEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newACRClient returns a Client for f authenticated with cred, on clock.
func newACRClient(t *testing.T, f *fakeACR, cred azcore.TokenCredential, clock *testenv.Clock) *registry.Client {
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
