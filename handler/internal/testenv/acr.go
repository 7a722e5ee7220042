package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ACR is an in-process Azure Container Registry data plane built from
// ../shared/azure-specs/acr-dataplane: the token exchange of AAD-OAuth.md
// (POST /oauth2/exchange: Entra ID token → refresh token; POST /oauth2/token:
// refresh token + scope → access token), every other endpoint behind a Bearer
// challenge naming its scope, and the /acr/v1 listing API of containerregistry.json
// (_catalog, repository attributes, _manifests with n/last/orderby and Link paging).
// /v2/ requests are proxied, with the access token checked, to Upstream when set (a
// real docker-registry holding the images), so scans read real content.
//
// The repositories and manifests it lists are set by the test (SetManifest), and it
// counts requests per endpoint (Count) and answers faults per endpoint (Fail).
type ACR struct {
	// Host is "127.0.0.1:PORT".
	Host string
	// AADToken is the Entra ID token /oauth2/exchange accepts.
	AADToken string

	upstream *httputil.ReverseProxy

	mu           sync.Mutex
	repos        map[string]*acrRepo
	counts       map[string]int
	faults       map[string][]ACRFault
	refresh      map[string]bool
	access       map[string]string // access token → granted scope
	accessScopes []string          // scopes asked of /oauth2/token, in order
}

type acrRepo struct {
	created, updated time.Time
	manifests        map[string]ACRManifest
}

// ACRManifest is one manifest the fake lists (ManifestAttributesBase).
type ACRManifest struct {
	Digest         string           `json:"digest"`
	ImageSize      int64            `json:"imageSize"`
	CreatedTime    time.Time        `json:"createdTime"`
	LastUpdateTime time.Time        `json:"lastUpdateTime"`
	Architecture   *string          `json:"architecture"`
	OS             *string          `json:"os"`
	MediaType      string           `json:"mediaType,omitempty"`
	Tags           []string         `json:"tags,omitempty"`
	References     []ACRPlatformRef `json:"references,omitempty"`
	// Raw, when set, is served instead of the fields above (bad answers).
	Raw json.RawMessage `json:"-"`
}

// ACRPlatformRef is a child of an index (ManifestAttributes_manifest_references).
type ACRPlatformRef struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// ACRFault is one answer the fake gives instead of the real one.
type ACRFault struct {
	Status     int
	Code       string // AcrErrorInfo code, e.g. TOOMANYREQUESTS
	RetryAfter string // Retry-After header, or ""
	Body       string // served verbatim instead of AcrErrors when set
}

// ACR endpoint names for Count and Fail.
const (
	ACRExchange   = "exchange"
	ACRToken      = "token"
	ACRPing       = "ping"
	ACRCatalog    = "catalog"
	ACRRepository = "repository"
	ACRManifests  = "manifests"
	ACRV2         = "v2"
)

// StartACR starts a fake ACR for the test. upstream, when not "", is the host of a
// registry (docker-registry) that /v2/ requests are proxied to.
func StartACR(t testing.TB, upstream string) *ACR {
	t.Helper()
	f := &ACR{
		AADToken: acrExampleParameter(t, "PostRefreshToken.json", "access_token"),
		repos:    map[string]*acrRepo{}, counts: map[string]int{}, faults: map[string][]ACRFault{},
		refresh: map[string]bool{}, access: map[string]string{},
	}
	if upstream != "" {
		f.upstream = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.Host = strings.TrimPrefix(srv.URL, "http://")
	return f
}

// acrExampleParameter reads one parameter of an x-ms-examples file.
func acrExampleParameter(t testing.TB, file, key string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Shared(t), "azure-specs", "acr-dataplane", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Parameters map[string]string `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	return ex.Parameters[key]
}

// SetManifest adds or replaces a manifest of repo (creating the repository) and
// moves the repository's lastUpdateTime to the later of its own and the manifest's.
// Tags given here are removed from the repository's other manifests.
func (f *ACR) SetManifest(repo string, m ACRManifest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[repo]
	if r == nil {
		r = &acrRepo{created: m.CreatedTime, manifests: map[string]ACRManifest{}}
		f.repos[repo] = r
	}
	for digest, other := range r.manifests {
		other.Tags = without(other.Tags, m.Tags)
		r.manifests[digest] = other
	}
	r.manifests[m.Digest] = m
	r.updated = latest(r.updated, m.CreatedTime, m.LastUpdateTime)
}

// Touch sets repo's lastUpdateTime (e.g. a delete, which leaves no manifest time).
func (f *ACR) Touch(repo string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repos[repo].updated = at
}

// Fail makes the next answers of endpoint the given faults, in order.
func (f *ACR) Fail(endpoint string, faults ...ACRFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[endpoint] = append(f.faults[endpoint], faults...)
}

// ExpireAccessTokens invalidates every access token issued so far, as their
// expiry would: the next request with one is challenged again.
func (f *ACR) ExpireAccessTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.access = map[string]string{}
}

// Count returns how many requests endpoint has answered (faults included).
func (f *ACR) Count(endpoint string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[endpoint]
}

// Counts returns a copy of every endpoint's count.
func (f *ACR) Counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

// AskedScopes returns the scopes asked of /oauth2/token, in order.
func (f *ACR) AskedScopes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.accessScopes...)
}

func (f *ACR) serve(w http.ResponseWriter, r *http.Request) {
	endpoint, repo, scope := f.route(r)
	f.mu.Lock()
	f.counts[endpoint]++
	var fault *ACRFault
	if q := f.faults[endpoint]; len(q) > 0 {
		fault, f.faults[endpoint] = &q[0], q[1:]
	}
	f.mu.Unlock()
	if fault != nil {
		writeFault(w, *fault)
		return
	}
	switch endpoint {
	case ACRExchange:
		f.exchange(w, r)
		return
	case ACRToken:
		f.token(w, r)
		return
	case "":
		acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "no such endpoint")
		return
	}
	if !f.authorized(r, scope) {
		challenge := fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s"`, f.Host, f.Host)
		if scope != "" {
			challenge += fmt.Sprintf(`,scope="%s"`, scope)
		}
		w.Header().Set("Www-Authenticate", challenge)
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	switch endpoint {
	case ACRPing:
		writeJSONBody(w, map[string]string{})
	case ACRCatalog:
		f.catalog(w, r)
	case ACRRepository:
		f.repository(w, repo)
	case ACRManifests:
		f.manifests(w, r, repo)
	case ACRV2:
		if f.upstream == nil {
			acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "no upstream")
			return
		}
		r.Header.Del("Authorization")
		f.upstream.ServeHTTP(w, r)
	}
}

// route names the endpoint of r, the repository it is about and the scope it needs.
func (f *ACR) route(r *http.Request) (endpoint, repo, scope string) {
	p := r.URL.Path
	switch {
	case p == "/oauth2/exchange" && r.Method == http.MethodPost:
		return ACRExchange, "", ""
	case p == "/oauth2/token" && r.Method == http.MethodPost:
		return ACRToken, "", ""
	case p == "/v2/" || p == "/v2":
		return ACRPing, "", ""
	case p == "/acr/v1/_catalog":
		return ACRCatalog, "", "registry:catalog:*"
	case strings.HasPrefix(p, "/acr/v1/") && strings.HasSuffix(p, "/_manifests"):
		repo = strings.TrimSuffix(strings.TrimPrefix(p, "/acr/v1/"), "/_manifests")
		return ACRManifests, repo, "repository:" + repo + ":metadata_read"
	case strings.HasPrefix(p, "/acr/v1/"):
		repo = strings.TrimPrefix(p, "/acr/v1/")
		return ACRRepository, repo, "repository:" + repo + ":metadata_read"
	case strings.HasPrefix(p, "/v2/"):
		rest := strings.TrimPrefix(p, "/v2/")
		for _, sep := range []string{"/manifests/", "/blobs/", "/tags/list"} {
			if i := strings.Index(rest, sep); i > 0 {
				return ACRV2, rest[:i], "repository:" + rest[:i] + ":pull"
			}
		}
	}
	return "", "", ""
}

func (f *ACR) exchange(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "access_token" || r.PostForm.Get("service") != f.Host {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "bad grant_type or service")
		return
	}
	if r.PostForm.Get("access_token") != f.AADToken {
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad AAD token")
		return
	}
	f.mu.Lock()
	token := fmt.Sprintf("acr-refresh-%d", len(f.refresh)+1)
	f.refresh[token] = true
	f.mu.Unlock()
	writeJSONBody(w, map[string]string{"refresh_token": token})
}

func (f *ACR) token(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "form expected")
		return
	}
	scope := strings.Join(r.PostForm["scope"], " ")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accessScopes = append(f.accessScopes, scope)
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token", r.PostForm.Get("service") != f.Host, scope == "":
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "bad grant_type, service or scope")
		return
	case !f.refresh[r.PostForm.Get("refresh_token")]:
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad refresh token")
		return
	}
	access := fmt.Sprintf("acr-access-%d", len(f.accessScopes))
	f.access[access] = scope
	writeJSONBody(w, map[string]string{"access_token": access})
}

// authorized reports whether r carries an access token granting scope; the ping
// (scope "") needs any live token.
func (f *ACR) authorized(r *http.Request, scope string) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	granted, ok := f.access[token]
	return ok && (scope == "" || strings.Contains(" "+granted+" ", " "+scope+" "))
}

// catalog serves GET /acr/v1/_catalog: names after last, at most n, and a Link to
// the next page when more remain.
func (f *ACR) catalog(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	names := make([]string, 0, len(f.repos))
	for name := range f.repos {
		names = append(names, name)
	}
	f.mu.Unlock()
	sort.Strings(names)
	page, next := pageOf(names, r, func(s string) string { return s })
	if next != "" {
		setNextLink(w, "/acr/v1/_catalog", next, r)
	}
	writeJSONBody(w, map[string][]string{"repositories": page})
}

// repository serves GET /acr/v1/{name} (RepositoryAttributes).
func (f *ACR) repository(w http.ResponseWriter, repo string) {
	f.mu.Lock()
	r, ok := f.repos[repo]
	var body map[string]any
	if ok {
		tags := 0
		for _, m := range r.manifests {
			tags += len(m.Tags)
		}
		body = map[string]any{
			"registry": f.Host, "imageName": repo,
			"createdTime": r.created, "lastUpdateTime": r.updated,
			"manifestCount": len(r.manifests), "tagCount": tags,
			"changeableAttributes": map[string]bool{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true},
		}
	}
	f.mu.Unlock()
	if !ok {
		acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	writeJSONBody(w, body)
}

// manifests serves GET /acr/v1/{name}/_manifests (AcrManifests), ordered by
// orderby (timedesc, timeasc, else by digest), paged by n and last.
func (f *ACR) manifests(w http.ResponseWriter, r *http.Request, repo string) {
	f.mu.Lock()
	rp, ok := f.repos[repo]
	var all []ACRManifest
	if ok {
		for _, m := range rp.manifests {
			all = append(all, m)
		}
	}
	f.mu.Unlock()
	if !ok {
		acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	sort.Slice(all, func(i, j int) bool {
		ti, tj := latest(all[i].CreatedTime, all[i].LastUpdateTime), latest(all[j].CreatedTime, all[j].LastUpdateTime)
		switch r.URL.Query().Get("orderby") {
		case "timedesc":
			if !ti.Equal(tj) {
				return ti.After(tj)
			}
		case "timeasc":
			if !ti.Equal(tj) {
				return ti.Before(tj)
			}
		}
		return all[i].Digest < all[j].Digest
	})
	page, next := pageOf(all, r, func(m ACRManifest) string { return m.Digest })
	if next != "" {
		setNextLink(w, "/acr/v1/"+repo+"/_manifests", next, r)
	}
	entries := make([]json.RawMessage, 0, len(page))
	for _, m := range page {
		if m.Raw != nil {
			entries = append(entries, m.Raw)
			continue
		}
		b, _ := json.Marshal(m)
		entries = append(entries, b)
	}
	writeJSONBody(w, map[string]any{"registry": f.Host, "imageName": repo, "manifests": entries})
}

// pageOf returns the items after the query's last (by key, in the order given) and at
// most n of them, and the key to continue after when more remain.
func pageOf[T any](items []T, r *http.Request, key func(T) string) ([]T, string) {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		for i, it := range items {
			if key(it) == last {
				items = items[i+1:]
				break
			}
		}
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 || n >= len(items) {
		return items, ""
	}
	return items[:n], key(items[n-1])
}

// setNextLink sets the Link header ACR sends: a relative URL with last, n and orderby.
func setNextLink(w http.ResponseWriter, path, last string, r *http.Request) {
	q := url.Values{"last": {last}, "n": {r.URL.Query().Get("n")}}
	if o := r.URL.Query().Get("orderby"); o != "" {
		q.Set("orderby", o)
	}
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode()))
}

func writeFault(w http.ResponseWriter, fault ACRFault) {
	if fault.RetryAfter != "" {
		w.Header().Set("Retry-After", fault.RetryAfter)
	}
	if fault.Body != "" {
		w.WriteHeader(fault.Status)
		io.WriteString(w, fault.Body)
		return
	}
	acrError(w, fault.Status, fault.Code, "injected fault")
}

// acrError writes an AcrErrors body.
func acrError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": code, "message": message, "detail": nil}}})
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func without(tags, remove []string) []string {
	var out []string
	for _, t := range tags {
		drop := false
		for _, r := range remove {
			drop = drop || t == r
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// StringPtr returns &s, for the nullable ACRManifest fields.
func StringPtr(s string) *string { return &s }
