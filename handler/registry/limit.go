package registry

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// limitTransport sits directly above the network and bounds the requests one Client
// has in flight to its registry: a request holds its slot from the moment it is sent
// until its response body is closed (a streamed layer counts for as long as it
// streams), or until it fails. A 429 answer with a Retry-After pauses every new
// request of the Client until that time passes, not only the throttled one's retry:
// a registry throttles the client, not a path.
type limitTransport struct {
	inner http.RoundTripper
	slots chan struct{}
	now   func() time.Time

	mu          sync.Mutex
	pausedUntil time.Time
}

func newLimitTransport(inner http.RoundTripper, limit int, now func() time.Time) *limitTransport {
	return &limitTransport{inner: inner, slots: make(chan struct{}, limit), now: now}
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.acquire(req.Context()); err != nil {
		return nil, err
	}
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		t.release()
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
			t.pause(wait)
		}
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		t.release()
		return resp, nil
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, release: sync.OnceFunc(t.release)}
	return resp, nil
}

// acquire takes a slot outside any Retry-After pause: a pause that began while the
// request waited for its slot is waited out with the slot given back.
func (t *limitTransport) acquire(ctx context.Context) error {
	for {
		if err := t.waitPause(ctx); err != nil {
			return err
		}
		select {
		case t.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !t.paused() {
			return nil
		}
		t.release()
	}
}

func (t *limitTransport) release() { <-t.slots }

func (t *limitTransport) paused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pausedUntil.After(t.now())
}

// pause holds back new requests for wait (a later pause never shortens an earlier one).
func (t *limitTransport) pause(wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until := t.now().Add(wait); until.After(t.pausedUntil) {
		t.pausedUntil = until
	}
}

// waitPause blocks until no Retry-After pause is in force, or ctx ends.
func (t *limitTransport) waitPause(ctx context.Context) error {
	for {
		t.mu.Lock()
		wait := t.pausedUntil.Sub(t.now())
		t.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		if err := sleepContext(ctx, wait); err != nil {
			return err
		}
	}
}

// slotBody gives the request's slot back when the body is closed or read to its end
// (whichever comes first: a reader that drains a body and forgets to close it must not
// leak a slot).
type slotBody struct {
	io.ReadCloser
	release func()
}

func (b *slotBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.release()
	}
	return n, err
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
