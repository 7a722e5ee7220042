package registry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// inFlightCounter is a reverse proxy in front of a registry that counts the requests
// it is serving at once, and records when each request arrived and when each 429 was
// answered. It imports nothing of the client it judges.
type inFlightCounter struct {
	proxy *httputil.ReverseProxy
	hold  time.Duration // each request is held this long before it is forwarded

	mu        sync.Mutex
	inFlight  int
	peak      int
	arrivals  []time.Time
	throttled []time.Time // when each 429 answer was written
}

func newInFlightCounter(t *testing.T, upstream string, hold time.Duration) (*inFlightCounter, string) {
	t.Helper()
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		t.Fatal(err)
	}
	c := &inFlightCounter{proxy: httputil.NewSingleHostReverseProxy(target), hold: hold}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, strings.TrimPrefix(srv.URL, "http://")
}

func (c *inFlightCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.inFlight++
	c.peak = max(c.peak, c.inFlight)
	c.arrivals = append(c.arrivals, time.Now())
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	time.Sleep(c.hold) // widens every request so that unbounded clients overlap
	c.proxy.ServeHTTP(&statusWatcher{ResponseWriter: w, counter: c}, r)
}

// statusWatcher notes the time a 429 header is written.
type statusWatcher struct {
	http.ResponseWriter
	counter *inFlightCounter
}

func (s *statusWatcher) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		s.counter.mu.Lock()
		s.counter.throttled = append(s.counter.throttled, time.Now())
		s.counter.mu.Unlock()
	}
	s.ResponseWriter.WriteHeader(code)
}

func (c *inFlightCounter) snapshot() (peak int, arrivals, throttled []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak, append([]time.Time(nil), c.arrivals...), append([]time.Time(nil), c.throttled...)
}

// resolveConcurrently resolves ref n times at once through c and fails the test on
// any error.
func resolveConcurrently(t *testing.T, c *registry.Client, repo, tag string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.Resolve(ctx, repo, tag)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("resolution %d: %v", i, err)
		}
	}
}

func TestMaxConcurrencyBoundsRequestsInFlight(t *testing.T) {
	reg := testenv.StartRegistry(t)
	reg.Push(t, "debian12-minbase", "team/min:1")
	const resolutions = 40
	tests := []struct {
		name  string
		limit int // 0: no WithMaxConcurrency
		check func(t *testing.T, peak int)
	}{
		{"a limit of 3 keeps at most 3 requests in flight", 3, func(t *testing.T, peak int) {
			if peak > 3 {
				t.Errorf("registry saw %d requests in flight at once, limit 3", peak)
			}
		}},
		{"a limit of 1 serialises every request", 1, func(t *testing.T, peak int) {
			if peak != 1 {
				t.Errorf("registry saw %d requests in flight at once, limit 1", peak)
			}
		}},
		// The counter must be able to see a breach, or the cases above prove nothing.
		{"without a limit the same load overlaps beyond 3", 0, func(t *testing.T, peak int) {
			if peak <= 3 {
				t.Errorf("registry saw at most %d requests in flight without a limit; the counter cannot tell a bound from none", peak)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counter, host := newInFlightCounter(t, reg.Host, 20*time.Millisecond)
			var opts []registry.Option
			if tt.limit > 0 {
				opts = append(opts, registry.WithMaxConcurrency(tt.limit))
			}
			c, err := registry.New(host, opts...)
			if err != nil {
				t.Fatal(err)
			}
			resolveConcurrently(t, c, "team/min", "1", resolutions)
			peak, arrivals, _ := counter.snapshot()
			if len(arrivals) < resolutions {
				t.Fatalf("registry saw %d requests for %d resolutions", len(arrivals), resolutions)
			}
			tt.check(t, peak)
		})
	}
}

func TestRetryAfterPausesEveryRequestOfTheClient(t *testing.T) {
	reg := testenv.StartRegistry(t)
	reg.Push(t, "debian12-minbase", "team/min:1")
	// Only 429s (Retry-After: 1), on manifests, three of them in all.
	proxy, faults := startFaultProxy(t, reg.Host, "-p429", "1", "-p500", "0", "-preset", "0",
		"-ptruncate", "0", "-pslow", "0", "-paths", "/manifests/", "-max-faults", "3")
	// 100 resolutions held 20 ms each through 4 slots are at least 0.5 s of requests:
	// without the pause, some would arrive inside the second after the 429s.
	counter, host := newInFlightCounter(t, proxy, 20*time.Millisecond)
	c, err := registry.New(host, registry.WithMaxConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	resolveConcurrently(t, c, "team/min", "1", 100)

	peak, arrivals, throttled := counter.snapshot()
	if n := len(faults()); n != 3 {
		t.Fatalf("faultproxy injected %d 429s, want 3: the test proves nothing otherwise", n)
	}
	if len(throttled) != 3 {
		t.Fatalf("counter saw %d 429 answers, want 3", len(throttled))
	}
	if peak > 4 {
		t.Errorf("registry saw %d requests in flight at once, limit 4", peak)
	}
	// After a 429 with Retry-After: 1 reaches the client, no request may start until the
	// second has passed. The margins absorb the client's distance from the counter.
	const margin = 150 * time.Millisecond
	for _, at := range throttled {
		for _, arrived := range arrivals {
			if d := arrived.Sub(at); d > margin && d < time.Second-margin {
				t.Errorf("a request arrived %v after a 429 with Retry-After: 1", d.Round(time.Millisecond))
			}
		}
	}
	if last := arrivals[len(arrivals)-1]; last.Sub(throttled[0]) < time.Second-margin {
		t.Errorf("every request was done %v after the first 429; Retry-After: 1 was not waited for", last.Sub(throttled[0]).Round(time.Millisecond))
	}
}
