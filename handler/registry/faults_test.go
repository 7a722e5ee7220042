package registry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// drain reads a layer's compressed stream to the end, which is when
// go-containerregistry verifies its digest.
func drain(layer v1.Layer) error {
	rc, err := layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	reg := testenv.StartRegistry(t)
	pushRandom(t, reg, reg.Ref("team/api:1"))
	httpDate := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)

	tests := []struct {
		name       string
		kind       string
		retryAfter string
		call       func(context.Context, *registry.Client) error
		minWait    time.Duration
		maxWait    time.Duration
	}{
		{
			name: "a 429 with Retry-After in seconds on the catalog waits that long",
			kind: "GET catalog", retryAfter: "1",
			call:    func(ctx context.Context, c *registry.Client) error { _, err := c.Repositories(ctx); return err },
			minWait: time.Second, maxWait: time.Second,
		},
		{
			name: "a 429 with Retry-After as an HTTP date on a manifest waits until then",
			kind: "HEAD manifest", retryAfter: httpDate,
			call: func(ctx context.Context, c *registry.Client) error {
				_, err := c.Resolve(ctx, "team/api", "1")
				return err
			},
			// The date has one-second resolution and the clock has moved on since.
			minWait: time.Second, maxWait: 3 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, reg.Host, func(kind string, _ *http.Request, n int) *fault {
				if kind != tt.kind || n > 1 {
					return nil
				}
				return &fault{
					status: http.StatusTooManyRequests,
					header: http.Header{"Retry-After": {tt.retryAfter}, "Content-Type": {"application/json"}},
					body:   registryError("TOOMANYREQUESTS", "slow down"),
				}
			})
			var s sleeps
			c := fastClient(t, p.Host, &s)
			if err := tt.call(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			waits := s.recorded()
			if len(waits) != 1 || waits[0] < tt.minWait || waits[0] > tt.maxWait {
				t.Errorf("waits = %v, want one wait in [%s, %s]", waits, tt.minWait, tt.maxWait)
			}
			if got := p.count(tt.kind); got != 2 {
				t.Errorf("%s requests = %d, want 2 (one throttled, one retried by us, none by go-containerregistry)", tt.kind, got)
			}
		})
	}
}

func TestServerErrorThenSuccessIsRetried(t *testing.T) {
	reg := testenv.StartRegistry(t)
	pushRandom(t, reg, reg.Ref("team/api:1"))
	p := startProxy(t, reg.Host, func(kind string, _ *http.Request, n int) *fault {
		if kind == "HEAD manifest" && n == 1 {
			return &fault{status: http.StatusInternalServerError}
		}
		return nil
	})
	var s sleeps
	c := fastClient(t, p.Host, &s)
	m, err := c.Resolve(context.Background(), "team/api", "1")
	if err != nil {
		t.Fatal(err)
	}
	direct, err := registry.New(reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	want, err := direct.Resolve(context.Background(), "team/api", "1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("manifest through the faulty proxy differs (-direct +proxied):\n%s", diff)
	}
	counts := map[string]int{"HEAD manifest": p.count("HEAD manifest"), "GET manifest": p.count("GET manifest")}
	if diff := cmp.Diff(map[string]int{"HEAD manifest": 2, "GET manifest": 0}, counts); diff != "" {
		t.Errorf("upstream requests (-want +got):\n%s", diff)
	}
	if waits := s.recorded(); len(waits) != 1 || waits[0] > 4*time.Millisecond {
		t.Errorf("waits = %v, want one back-off of at most the 4ms cap", waits)
	}
}

func TestPermanentFaultsAreNotRetried(t *testing.T) {
	reg := testenv.StartRegistry(t)
	corruptLayer := "GET blob " + firstLayerDigest(t, pushRandom(t, reg, reg.Ref("team/api:1"))).String()
	p := startProxy(t, reg.Host, func(kind string, _ *http.Request, _ int) *fault {
		if kind == corruptLayer {
			return &fault{filter: flipByte(10)}
		}
		return nil
	})
	var s sleeps
	c := fastClient(t, p.Host, &s)
	ctx := context.Background()

	tests := []struct {
		name       string
		call       func() error
		kind       string
		wantStatus int
		wantText   string
	}{
		{
			name:       "resolving a missing tag fails once with 404",
			call:       func() error { _, err := c.Resolve(ctx, "team/api", "missing"); return err },
			kind:       "HEAD manifest",
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "resolving a missing manifest to its platforms fails once with MANIFEST_UNKNOWN",
			call:       func() error { _, err := c.Target(ctx, "team/api:missing"); return err },
			kind:       "GET manifest",
			wantStatus: http.StatusNotFound,
			wantText:   "MANIFEST_UNKNOWN",
		},
		{
			name:       "listing tags of a missing repository fails once with NAME_UNKNOWN",
			call:       func() error { _, err := c.Tags(ctx, "team/nope"); return err },
			kind:       "GET tags",
			wantStatus: http.StatusNotFound,
			wantText:   "NAME_UNKNOWN",
		},
		{
			name: "a blob corrupted in transit fails its digest check once",
			call: func() error {
				img, err := firstImage(ctx, c, "team/api:1")
				if err != nil {
					return err
				}
				layers, err := img.Layers()
				if err != nil {
					return err
				}
				return registry.Retry(ctx, fastRetry(&s), func(ctx context.Context) error {
					return drain(layers[0])
				})
			},
			kind:     corruptLayer,
			wantText: "checksum",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := p.count(tt.kind)
			err := tt.call()
			if err == nil {
				t.Fatal("succeeded")
			}
			if registry.IsTransient(err) {
				t.Errorf("%v is classified transient, want permanent", err)
			}
			var re *registry.Error
			if tt.wantStatus != 0 && (!errors.As(err, &re) || re.Status != tt.wantStatus) {
				t.Errorf("%v: want a *registry.Error with status %d", err, tt.wantStatus)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("%v does not mention %q", err, tt.wantText)
			}
			if got := p.count(tt.kind) - before; got != 1 {
				t.Errorf("%s requests = %d, want 1 (no retries)", tt.kind, got)
			}
		})
	}
	if waits := s.recorded(); len(waits) != 0 {
		t.Errorf("waited %v before permanent failures", waits)
	}
}

func TestTruncatedBlobIsRetriedFromTheStart(t *testing.T) {
	reg := testenv.StartRegistry(t)
	layerDigest := firstLayerDigest(t, pushRandom(t, reg, reg.Ref("team/api:1")))
	kind := "GET blob " + layerDigest.String()
	p := startProxy(t, reg.Host, func(k string, _ *http.Request, n int) *fault {
		if k == kind && n == 1 {
			return &fault{filter: truncate(100)}
		}
		return nil
	})
	var s sleeps
	c := fastClient(t, p.Host, &s)
	ctx := context.Background()
	remoteImg, err := firstImage(ctx, c, "team/api:1")
	if err != nil {
		t.Fatal(err)
	}
	remoteLayer, err := remoteImg.LayerByDigest(layerDigest)
	if err != nil {
		t.Fatal(err)
	}
	var attempts []error
	err = registry.Retry(ctx, fastRetry(&s), func(ctx context.Context) error {
		err := drain(remoteLayer)
		attempts = append(attempts, err)
		return err
	})
	if err != nil {
		t.Fatalf("retrying the stream: %v", err)
	}
	if len(attempts) != 2 || !registry.IsTransient(attempts[0]) || !errors.Is(attempts[0], io.ErrUnexpectedEOF) {
		t.Errorf("attempts = %v, want a transient unexpected EOF then success", attempts)
	}
	if got := p.count(kind); got != 2 {
		t.Errorf("%s requests = %d, want 2", kind, got)
	}
}

func TestRetryAfterBeyondTheDeadlineExhaustsTheBudget(t *testing.T) {
	reg := testenv.StartRegistry(t)
	p := startProxy(t, reg.Host, func(kind string, _ *http.Request, _ int) *fault {
		if kind != "GET catalog" {
			return nil
		}
		return &fault{status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {"5"}}}
	})
	var s sleeps
	c := fastClient(t, p.Host, &s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Repositories(ctx)
	if !errors.Is(err, registry.ErrBudgetExhausted) {
		t.Fatalf("err = %v, want ErrBudgetExhausted", err)
	}
	if !registry.IsTransient(err) {
		t.Errorf("%v is permanent, want transient so the queue retries", err)
	}
	var re *registry.Error
	if !errors.As(err, &re) || re.Status != http.StatusTooManyRequests || re.RetryAfter != 5*time.Second {
		t.Errorf("%v: want a *registry.Error with status 429 and RetryAfter 5s", err)
	}
	if got := p.count("GET catalog"); got != 1 {
		t.Errorf("catalog requests = %d, want 1", got)
	}
	if waits := s.recorded(); len(waits) != 0 {
		t.Errorf("waited %v although the wait could not fit the budget", waits)
	}
}

// flipByte corrupts the byte at offset without changing the length.
func flipByte(offset int64) func(io.Reader) io.Reader {
	return func(r io.Reader) io.Reader { return &flipper{r: r, at: offset} }
}

type flipper struct {
	r   io.Reader
	at  int64
	pos int64
}

func (f *flipper) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		b[f.at-f.pos] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}

// truncate passes n bytes and then fails, so the proxy aborts the response before
// its Content-Length is reached.
func truncate(n int64) func(io.Reader) io.Reader {
	return func(r io.Reader) io.Reader {
		return io.MultiReader(io.LimitReader(r, n), errReader{io.ErrUnexpectedEOF})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// firstLayerDigest returns the digest of img's first layer blob.
func firstLayerDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest
}
