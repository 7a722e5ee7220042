package pipeline_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// faultProxy sits in front of a real registry and injects one fault at a time into
// the requests whose path contains a given fragment.
type faultProxy struct {
	Host string // "127.0.0.1:PORT", configured as the registry host

	mu    sync.Mutex
	fault fault
}

// fault is what the proxy does to requests whose path contains match: answer status
// (with Retry-After when retryAfter is set) or, when status is 0, flip a byte of the
// response body.
type fault struct {
	match      string
	status     int
	retryAfter string
}

func startFaultProxy(t *testing.T, registryHost string) *faultProxy {
	t.Helper()
	target, err := url.Parse("http://" + registryHost)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if f := p.current(); f.match != "" && f.status == 0 && strings.Contains(resp.Request.URL.Path, f.match) {
			resp.Body = &flipReader{r: resp.Body, at: 1024}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := p.current(); f.match != "" && f.status != 0 && strings.Contains(r.URL.Path, f.match) {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			http.Error(w, http.StatusText(f.status), f.status)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// inject sets the fault for the rest of the test and clears it at its end.
func (p *faultProxy) inject(t *testing.T, f fault) {
	p.set(f)
	t.Cleanup(func() { p.set(fault{}) })
}

func (p *faultProxy) set(f fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

func (p *faultProxy) current() fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

// flipReader inverts the byte at offset at of r.
type flipReader struct {
	r    io.ReadCloser
	at   int64
	read int64
}

func (f *flipReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if i := f.at - f.read; i >= 0 && i < int64(n) {
		b[i] ^= 0xff
	}
	f.read += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }
