package feed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPSource fetches from an OSV bulk-export base URL with conditional requests and
// retries: jittered exponential back-off, Retry-After honoured, never waiting past
// the context's deadline (the invocation budget).
type HTTPSource struct {
	base     string
	client   *http.Client
	attempts int
	backoff  time.Duration
	sleep    func(context.Context, time.Duration) error
}

var _ Fetcher = (*HTTPSource)(nil)

// HTTPOption configures an HTTPSource.
type HTTPOption func(*HTTPSource)

// WithHTTPClient sets the client (default http.DefaultClient; timeouts come from
// the context).
func WithHTTPClient(c *http.Client) HTTPOption { return func(s *HTTPSource) { s.client = c } }

// WithAttempts sets how many times one archive is asked for (default 6).
func WithAttempts(n int) HTTPOption { return func(s *HTTPSource) { s.attempts = max(1, n) } }

// WithSleep replaces the wait between attempts; tests record the waits instead of
// spending them.
func WithSleep(sleep func(context.Context, time.Duration) error) HTTPOption {
	return func(s *HTTPSource) { s.sleep = sleep }
}

// NewHTTPSource returns a source reading `<base>/<folder>/all.zip`.
func NewHTTPSource(base string, opts ...HTTPOption) *HTTPSource {
	s := &HTTPSource{
		base:     strings.TrimRight(base, "/"),
		client:   http.DefaultClient,
		attempts: 6,
		backoff:  500 * time.Millisecond,
		sleep:    sleepCtx,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Fetch gets the folder's archive, retrying transient failures.
func (s *HTTPSource) Fetch(ctx context.Context, folder string, prev Validators, limit int64) (*Archive, error) {
	return s.fetchURL(ctx, s.base+"/"+url.PathEscape(folder)+"/all.zip", prev, limit)
}

// fetchURL gets one document, conditionally on prev, retrying transient failures.
func (s *HTTPSource) fetchURL(ctx context.Context, url string, prev Validators, limit int64) (*Archive, error) {
	var last error
	for attempt := range s.attempts {
		if attempt > 0 {
			wait := s.wait(attempt, last)
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
				return nil, fmt.Errorf("fetching %s: next attempt in %s is past the budget: %w", url, wait, last)
			}
			if err := s.sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("fetching %s: %w (after %w)", url, err, last)
			}
		}
		a, err := s.get(ctx, url, prev, limit)
		if err == nil {
			return a, nil
		}
		if ctx.Err() != nil && last != nil {
			// The budget ran out during a retry: what the source answered before is
			// the cause worth reporting, the deadline only why it stopped.
			err = fmt.Errorf("%w (after %w)", err, last)
		}
		last = err
		var he *HTTPError
		if errors.Is(err, ErrRejected) || ctx.Err() != nil || (errors.As(err, &he) && !he.retryable()) {
			break
		}
	}
	return nil, fmt.Errorf("fetching %s: %w", url, last)
}

// wait is the pause before attempt: the server's Retry-After if it gave one, else
// full-jitter exponential back-off.
func (s *HTTPSource) wait(attempt int, last error) time.Duration {
	var he *HTTPError
	if errors.As(last, &he) && he.RetryAfter > 0 {
		return he.RetryAfter
	}
	ceiling := min(s.backoff<<(attempt-1), 30*time.Second)
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// get makes one conditional request.
func (s *HTTPSource) get(ctx context.Context, url string, prev Validators, limit int64) (*Archive, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return &Archive{NotModified: true, Validators: prev}, nil
	case http.StatusOK:
	default:
		return nil, &HTTPError{URL: url, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("archive of %d bytes exceeds the %d-byte cap: %w", resp.ContentLength, limit, ErrRejected)
	}
	data, err := readCapped(resp.Body, limit, resp.ContentLength)
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	return &Archive{Data: data, Validators: Validators{
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
	}}, nil
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when absent.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
