package registry

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// retryAfterTransport sits directly above the network. An error response that
// carries a usable Retry-After header becomes a *throttled error, so the wait the
// registry asked for reaches Retry through go-containerregistry's error wrapping.
type retryAfterTransport struct {
	inner http.RoundTripper
	now   func() time.Time
}

func (t *retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.inner.RoundTrip(req)
	if err != nil || resp.StatusCode < http.StatusBadRequest {
		return resp, err
	}
	wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
	if !ok {
		return resp, nil
	}
	// CheckError reads (a bounded prefix of) the body for the registry's diagnostic.
	cause := transport.CheckError(resp)
	resp.Body.Close()
	return nil, &throttled{status: resp.StatusCode, retryAfter: wait, err: cause}
}

// maxRetryAfterSeconds bounds a delay-seconds value (one day).
const maxRetryAfterSeconds = 24 * 60 * 60

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date (RFC 9110
// §10.2.3), relative to now. A date in the past means "now" (a zero wait, still ok).
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Clamp before converting so an absurd value cannot overflow time.Duration;
		// Retry's budget check rejects such waits anyway.
		secs = min(secs, maxRetryAfterSeconds)
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}
