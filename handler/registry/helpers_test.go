package registry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// pushRandom pushes a small random image to ref (a full "host/repo:tag") and returns it.
func pushRandom(t *testing.T, reg *testenv.Registry, ref string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, pushAuth(reg)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return img
}

// firstImage resolves ref with c and returns its first platform image.
func firstImage(ctx context.Context, c *registry.Client, ref string) (v1.Image, error) {
	target, err := c.Target(ctx, ref)
	if err != nil {
		return nil, err
	}
	return target.Platforms[0].Image, nil
}

// tagImage adds tag to the image already pushed at ref.
func tagImage(t *testing.T, reg *testenv.Registry, ref string, img v1.Image, tag string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(r.Context().Tag(tag), img, pushAuth(reg)); err != nil {
		t.Fatalf("tagging %s as %s: %v", ref, tag, err)
	}
}

func pushAuth(reg *testenv.Registry) remote.Option {
	if reg.Username == "" {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(&authn.Basic{Username: reg.Username, Password: reg.Password})
}

// sleeps records Retry's waits instead of sleeping.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeps) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// fastRetry is a policy with millisecond back-off whose waits land in s.
func fastRetry(s *sleeps) registry.RetryPolicy {
	return registry.RetryPolicy{Attempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, Sleep: s.sleep}
}

// fastClient returns a Client for host retrying under fastRetry(s).
func fastClient(t *testing.T, host string, s *sleeps) *registry.Client {
	t.Helper()
	c, err := registry.New(host, registry.WithRetry(fastRetry(s)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fault is what the proxy does to one request instead of forwarding it untouched.
type fault struct {
	status int                       // answer with this status and header, without forwarding
	header http.Header               // headers of that answer
	body   string                    // body of that answer
	filter func(io.Reader) io.Reader // forward, but pass the upstream body through this
}

// injector picks a fault for the n-th (1-based) request of its kind, or nil.
type injector func(kind string, r *http.Request, n int) *fault

// proxy is a reverse proxy in front of a real registry that counts requests by kind
// ("GET catalog", "HEAD manifest", "GET blob sha256:…"), records User-Agents, and
// injects faults.
type proxy struct {
	Host   string
	inject injector

	mu         sync.Mutex
	counts     map[string]int
	userAgents map[string][]string
}

type filterKey struct{}

func startProxy(t *testing.T, upstreamHost string, inject injector) *proxy {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: upstreamHost}
	rp := httputil.NewSingleHostReverseProxy(target)
	// Flush every write so a truncated body reaches the client as a response cut
	// short, not as a connection closed before any response (which net/http would
	// quietly retry).
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if filter, ok := resp.Request.Context().Value(filterKey{}).(func(io.Reader) io.Reader); ok {
			resp.Body = readCloser{filter(resp.Body), resp.Body}
		}
		return nil
	}
	p := &proxy{inject: inject, counts: map[string]int{}, userAgents: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := requestKind(r)
		p.mu.Lock()
		p.counts[kind]++
		n := p.counts[kind]
		p.userAgents[kind] = append(p.userAgents[kind], r.UserAgent())
		p.mu.Unlock()
		var f *fault
		if p.inject != nil {
			f = p.inject(kind, r, n)
		}
		switch {
		case f == nil:
		case f.filter != nil:
			r = r.WithContext(context.WithValue(r.Context(), filterKey{}, f.filter))
		default:
			for k, v := range f.header {
				w.Header()[k] = v
			}
			w.WriteHeader(f.status)
			io.WriteString(w, f.body)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// count returns how many requests of kind reached the proxy.
func (p *proxy) count(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[kind]
}

// allUserAgents returns every recorded User-Agent by request kind.
func (p *proxy) allUserAgents() map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]string{}
	for k, v := range p.userAgents {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// requestKind names a registry request by method and endpoint; blob requests
// include the digest so one layer can be singled out.
func requestKind(r *http.Request) string {
	path := r.URL.Path
	switch {
	case path == "/v2/" || path == "/v2":
		return r.Method + " ping"
	case strings.HasSuffix(path, "/_catalog"):
		return r.Method + " catalog"
	case strings.HasSuffix(path, "/tags/list"):
		return r.Method + " tags"
	case strings.Contains(path, "/manifests/"):
		return r.Method + " manifest"
	case strings.Contains(path, "/blobs/"):
		return r.Method + " blob " + path[strings.LastIndex(path, "/")+1:]
	}
	return r.Method + " " + path
}

type readCloser struct {
	io.Reader
	io.Closer
}

// registryError is a distribution-spec error body.
func registryError(code, message string) string {
	return `{"errors":[{"code":"` + code + `","message":"` + message + `"}]}`
}
