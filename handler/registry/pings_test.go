package registry_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/registry"
)

func TestAGenericRegistryIsPingedOncePerClient(t *testing.T) {
	repos := make([]string, 20)
	for i := range repos {
		repos[i] = fmt.Sprintf("team/app-%02d", i)
	}
	tests := []struct {
		name        string
		gate        gate
		clientOpts  []registry.Option
		wantDenials int // requests answered 401: Basic's unauthenticated ping
	}{
		{name: "an anonymous registry is pinged once, over plain HTTP only", gate: openGate{}},
		{
			name:        "a Basic registry is pinged once and every later request carries the credentials",
			gate:        basicGate{user: "alice", pass: "s3cret"},
			clientOpts:  []registry.Option{registry.WithBasicAuth("alice", "s3cret")},
			wantDenials: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := startCountingRegistry(t, tt.gate, repos)
			c, err := registry.New(reg.Host, tt.clientOpts...)
			if err != nil {
				t.Fatal(err)
			}
			sweepConcurrently(t, c, repos)

			if got := reg.count("GET ping"); got != 1 {
				t.Errorf("GET /v2/ reached the registry %d times for %d repositories, want once per client", got, len(repos))
			}
			if got := reg.tlsHellos.Load(); got != 0 {
				t.Errorf("%d connections to the plain-HTTP registry opened with a TLS ClientHello, want none", got)
			}
			if got := reg.count("denied"); got != tt.wantDenials {
				t.Errorf("%d requests were answered 401 (%v), want %d", got, reg.deniedKinds(), tt.wantDenials)
			}
			if got := reg.count("GET tags"); got != len(repos) {
				t.Errorf("tags/list served %d times, want %d: the listing did not run as counted", got, len(repos))
			}
		})
	}
}

// sweepConcurrently runs listResolveAndPull on every repository at once, so that
// the first calls race for the handshake.
func sweepConcurrently(t *testing.T, c *registry.Client, repos []string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(repos))
	for i, repo := range repos {
		wg.Go(func() { errs[i] = listResolveAndPull(context.Background(), c, repo) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listResolveAndPull lists repo's tags, resolves its tag "1" and pulls that image's
// config and first layer: every kind of request a sweep and a scan make.
func listResolveAndPull(ctx context.Context, c *registry.Client, repo string) error {
	tags, err := c.Tags(ctx, repo)
	if err != nil {
		return err
	}
	if len(tags) != 1 || tags[0] != "1" {
		return fmt.Errorf("tags of %s = %q, want [1]", repo, tags)
	}
	if _, err := c.Resolve(ctx, repo, "1"); err != nil {
		return err
	}
	img, err := firstImage(ctx, c, repo+":1")
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("layers of %s:1: %w", repo, err)
	}
	if err := drain(layers[0]); err != nil {
		return fmt.Errorf("pulling a layer of %s:1: %w", repo, err)
	}
	return nil
}

// countingRegistry is go-containerregistry's in-process registry behind an httptest
// server that counts requests by kind (see requestKind), the requests its gate
// denied ("denied") and the connections that opened with a TLS ClientHello.
type countingRegistry struct {
	Host      string
	tlsHellos atomic.Int64

	mu     sync.Mutex
	counts map[string]int
	denied []string // kinds of the denied requests
}

// gate is the authentication a countingRegistry demands.
type gate interface {
	// allows reports whether r carries what the registry wants for it.
	allows(r *http.Request) bool
	// challenge is the WWW-Authenticate of a denial by the registry at host.
	challenge(host string) string
}

// openGate lets every request through, as an anonymous registry does.
type openGate struct{}

func (openGate) allows(*http.Request) bool { return true }
func (openGate) challenge(string) string   { return "" }

// basicGate demands HTTP Basic credentials on every request, as docker-registry's
// htpasswd does.
type basicGate struct{ user, pass string }

func (g basicGate) allows(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte(g.user+":"+g.pass))
}

func (basicGate) challenge(string) string { return `Basic realm="tidewatch-test"` }

// startCountingRegistry serves an image tagged "1" in each of repos behind g.
func startCountingRegistry(t *testing.T, g gate, repos []string) *countingRegistry {
	t.Helper()
	backend := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	pushToEach(t, backend, repos)
	reg := &countingRegistry{counts: map[string]int{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := g.(http.Handler); ok && !strings.HasPrefix(r.URL.Path, "/v2") {
			h.ServeHTTP(w, r) // the gate's own endpoints, a token server
			return
		}
		ok := g.allows(r)
		reg.record(requestKind(r), ok)
		if !ok {
			w.Header().Set("WWW-Authenticate", g.challenge(r.Host))
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, registryError("UNAUTHORIZED", "authentication required"))
			return
		}
		backend.ServeHTTP(w, r)
	}))
	srv.Listener = &helloCountingListener{Listener: srv.Listener, hellos: &reg.tlsHellos}
	srv.Start()
	t.Cleanup(srv.Close)
	reg.Host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

// pushToEach pushes one small random image as "1" to each of repos in backend,
// through a server of its own so that the pushes go uncounted.
func pushToEach(t *testing.T, backend http.Handler, repos []string) {
	t.Helper()
	srv := httptest.NewServer(backend)
	defer srv.Close()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range repos {
		ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/" + repo + ":1")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
	}
}

func (r *countingRegistry) record(kind string, allowed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[kind]++
	if !allowed {
		r.counts["denied"]++
		r.denied = append(r.denied, kind)
	}
}

func (r *countingRegistry) count(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[kind]
}

func (r *countingRegistry) deniedKinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.denied...)
}

// helloCountingListener counts accepted connections whose first byte is 0x16, a TLS
// handshake record: on a plain-HTTP port, a client that tried https.
type helloCountingListener struct {
	net.Listener
	hellos *atomic.Int64
}

func (l *helloCountingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &firstByteConn{Conn: conn, hellos: l.hellos}, nil
}

type firstByteConn struct {
	net.Conn
	hellos *atomic.Int64
	once   sync.Once
}

func (c *firstByteConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() {
			if p[0] == 0x16 {
				c.hellos.Add(1)
			}
		})
	}
	return n, err
}

func TestABearerRegistryStillGivesEachRepositoryItsOwnToken(t *testing.T) {
	repos := []string{"team/api", "team/web", "tools/ci"}
	g := &bearerGate{asked: map[string]int{}}
	reg := startCountingRegistry(t, g, repos)
	c, err := registry.New(reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	sweepConcurrently(t, c, repos)

	var want []string
	for _, repo := range repos {
		want = append(want, "repository:"+repo+":pull")
	}
	if diff := cmp.Diff(want, g.scopes()); diff != "" {
		t.Errorf("scopes tokens were asked for (-want +got):\n%s", diff)
	}
	for _, kind := range reg.deniedKinds() {
		if kind != "GET ping" {
			t.Errorf("a %s request was denied: it did not carry its repository's token", kind)
		}
	}
}

// bearerGate demands on every repository request a token for that repository's pull
// scope, which its token endpoint hands to anyone, as docker-registry's token auth
// does for anonymous pulls.
type bearerGate struct {
	mu    sync.Mutex
	asked map[string]int // token requests by scope
}

// ServeHTTP is the token endpoint.
func (g *bearerGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	scope := r.Form.Get("scope")
	g.mu.Lock()
	g.asked[scope]++
	g.mu.Unlock()
	writeJSON(w, map[string]string{"token": tokenFor(scope)})
}

func (g *bearerGate) allows(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Bearer "+tokenFor(repositoryScope(r.URL.Path))
}

func (g *bearerGate) challenge(host string) string {
	return `Bearer realm="http://` + host + `/token",service="tidewatch-test"`
}

// scopes returns the scopes tokens were asked for, sorted.
func (g *bearerGate) scopes() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.asked))
}

func tokenFor(scope string) string { return "token-for-" + scope }

// repositoryScope is the pull scope a request path needs ("" for /v2/).
func repositoryScope(path string) string {
	rest := strings.TrimPrefix(path, "/v2/")
	for _, endpoint := range []string{"/tags/list", "/manifests/", "/blobs/"} {
		if i := strings.Index(rest, endpoint); i > 0 {
			return "repository:" + rest[:i] + ":pull"
		}
	}
	return ""
}

func TestAPingFailureOverPlainHTTPKeepsItsKind(t *testing.T) {
	tests := []struct {
		name          string
		answer        http.HandlerFunc
		wantTransient bool
		wantStatus    int
	}{
		{
			name: "a connection closed before any answer is transient",
			answer: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			wantTransient: true,
		},
		{
			name:          "a 503 is transient and keeps its status",
			answer:        func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
			wantTransient: true,
			wantStatus:    http.StatusServiceUnavailable,
		},
		{
			name:       "a 404 is permanent and keeps its status",
			answer:     func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) },
			wantStatus: http.StatusNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.answer)
			t.Cleanup(srv.Close)
			c, err := registry.New(strings.TrimPrefix(srv.URL, "http://"), registry.WithRetry(registry.RetryPolicy{Attempts: 1}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Tags(context.Background(), "team/api")
			if err == nil {
				t.Fatal("listing succeeded against a registry whose ping fails")
			}
			if got := registry.IsTransient(err); got != tt.wantTransient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, got, tt.wantTransient)
			}
			var re *registry.Error
			if !errors.As(err, &re) {
				t.Fatalf("%v is not a *registry.Error", err)
			}
			if re.Status != tt.wantStatus {
				t.Errorf("%v: status %d, want %d", err, re.Status, tt.wantStatus)
			}
			if strings.Contains(err.Error(), "https") {
				t.Errorf("%q mentions https, which a plain-HTTP registry was never asked over", err)
			}
		})
	}
}
