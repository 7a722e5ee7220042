package fakeacr

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Source is what the registry holds.
type Source interface {
	// Repositories returns every repository's name, sorted.
	Repositories() ([]string, error)
	// Attributes returns a repository's attributes; false when it does not exist.
	Attributes(repo string) (Attributes, bool, error)
	// Manifests returns every manifest of a repository; false when it does not exist.
	Manifests(repo string) ([]Manifest, bool, error)
}

// Attributes are a repository's (RepositoryAttributes).
type Attributes struct {
	Created, Updated        time.Time
	ManifestCount, TagCount int
}

// Manifest is one manifest the fake lists (ManifestAttributesBase).
type Manifest struct {
	Digest         string        `json:"digest"`
	ImageSize      int64         `json:"imageSize"`
	CreatedTime    time.Time     `json:"createdTime"`
	LastUpdateTime time.Time     `json:"lastUpdateTime"`
	Architecture   *string       `json:"architecture"`
	OS             *string       `json:"os"`
	MediaType      string        `json:"mediaType,omitempty"`
	Tags           []string      `json:"tags,omitempty"`
	References     []PlatformRef `json:"references,omitempty"`
	// Raw, when set, is served instead of the fields above (bad answers).
	Raw json.RawMessage `json:"-"`
}

// PlatformRef is a child of an index (ManifestAttributes_manifest_references).
type PlatformRef struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Fault is one answer the fake gives instead of the real one.
type Fault struct {
	Status     int
	Code       string // AcrErrorInfo code, e.g. TOOMANYREQUESTS
	RetryAfter string // Retry-After header, or ""
	Body       string // served verbatim instead of AcrErrors when set
}

// Endpoint names for Count and Fail.
const (
	Exchange   = "exchange"
	Token      = "token"
	Ping       = "ping"
	Catalog    = "catalog"
	Repository = "repository"
	Manifests  = "manifests"
	V2         = "v2"
)

// Server answers as ACR's data plane for the repositories of its Source. It is an
// http.Handler; Host must be set to the address it is served on before the first
// request (challenges and the token exchange name it).
type Server struct {
	// Host is "127.0.0.1:PORT".
	Host string
	// AADToken is the Entra ID token /oauth2/exchange accepts.
	AADToken string

	source   Source
	upstream *httputil.ReverseProxy

	mu           sync.Mutex
	counts       map[string]int
	faults       map[string][]Fault
	refresh      map[string]bool
	access       map[string]string // access token → granted scope
	accessScopes []string          // scopes asked of /oauth2/token, in order
}

// New returns a server listing source and accepting aadToken at /oauth2/exchange.
// upstream, when not "", is the host of a registry (docker-registry) that /v2/
// requests are proxied to, with the access token checked.
func New(source Source, aadToken, upstream string) *Server {
	s := &Server{AADToken: aadToken, source: source,
		counts: map[string]int{}, faults: map[string][]Fault{}, refresh: map[string]bool{}, access: map[string]string{}}
	if upstream != "" {
		s.upstream = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	}
	return s
}

// Fail makes the next answers of endpoint the given faults, in order.
func (s *Server) Fail(endpoint string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[endpoint] = append(s.faults[endpoint], faults...)
}

// ExpireAccessTokens invalidates every access token issued so far, as their
// expiry would: the next request with one is challenged again.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]string{}
}

// Count returns how many requests endpoint has answered (faults included).
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

// Counts returns a copy of every endpoint's count.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// AskedScopes returns the scopes asked of /oauth2/token, in order.
func (s *Server) AskedScopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.accessScopes...)
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, repo, scope := route(r)
	s.mu.Lock()
	s.counts[endpoint]++
	var fault *Fault
	if q := s.faults[endpoint]; len(q) > 0 {
		fault, s.faults[endpoint] = &q[0], q[1:]
	}
	s.mu.Unlock()
	if fault != nil {
		writeFault(w, *fault)
		return
	}
	switch endpoint {
	case Exchange:
		s.exchange(w, r)
		return
	case Token:
		s.token(w, r)
		return
	case "":
		acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "no such endpoint")
		return
	}
	if !s.authorized(r, scope) {
		challenge := fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s"`, s.Host, s.Host)
		if scope != "" {
			challenge += fmt.Sprintf(`,scope="%s"`, scope)
		}
		w.Header().Set("Www-Authenticate", challenge)
		acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	switch endpoint {
	case Ping:
		writeJSONBody(w, map[string]string{})
	case Catalog:
		s.catalog(w, r)
	case Repository:
		s.repository(w, repo)
	case Manifests:
		s.manifests(w, r, repo)
	case V2:
		if s.upstream == nil {
			acrError(w, http.StatusNotFound, "NAME_UNKNOWN", "no upstream")
			return
		}
		r.Header.Del("Authorization")
		s.upstream.ServeHTTP(w, r)
	}
}

// route names the endpoint of r, the repository it is about and the scope it needs.
func route(r *http.Request) (endpoint, repo, scope string) {
	p := r.URL.Path
	switch {
	case p == "/oauth2/exchange" && r.Method == http.MethodPost:
		return Exchange, "", ""
	case p == "/oauth2/token" && r.Method == http.MethodPost:
		return Token, "", ""
	case p == "/v2/" || p == "/v2":
		return Ping, "", ""
	case p == "/acr/v1/_catalog":
		return Catalog, "", "registry:catalog:*"
	case strings.HasPrefix(p, "/acr/v1/") && strings.HasSuffix(p, "/_manifests"):
		repo = strings.TrimSuffix(strings.TrimPrefix(p, "/acr/v1/"), "/_manifests")
		return Manifests, repo, "repository:" + repo + ":metadata_read"
	case strings.HasPrefix(p, "/acr/v1/"):
		repo = strings.TrimPrefix(p, "/acr/v1/")
		return Repository, repo, "repository:" + repo + ":metadata_read"
	case strings.HasPrefix(p, "/v2/"):
		rest := strings.TrimPrefix(p, "/v2/")
		for _, sep := range []string{"/manifests/", "/blobs/", "/tags/list"} {
			if i := strings.Index(rest, sep); i > 0 {
				return V2, rest[:i], "repository:" + rest[:i] + ":pull"
			}
		}
	}
	return "", "", ""
}

func writeFault(w http.ResponseWriter, fault Fault) {
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

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
