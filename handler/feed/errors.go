package feed

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrRejected reports a folder whose export failed verification; the current
// generation keeps serving that folder. Retrying the same export cannot help.
var ErrRejected = errors.New("advisory export rejected")

// ErrConflict reports that another sync switched the pointer first; this sync's
// generation was discarded. Syncing again is safe.
var ErrConflict = errors.New("advisory pointer changed concurrently")

// ErrNotFound reports a missing blob or pointer.
var ErrNotFound = errors.New("not found")

// HTTPError is an unexpected HTTP answer of the advisory source.
type HTTPError struct {
	URL        string
	Status     int
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// retryable reports whether the status is worth asking again.
func (e *HTTPError) retryable() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// IsPermanent reports whether err is a failure a retry of the same sync cannot fix:
// a rejected export, or a source answering 4xx other than 408 and 429 (a missing
// folder, a forbidden bucket). Everything else, unclassified errors included, is
// transient.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrRejected) {
		return true
	}
	var he *HTTPError
	return errors.As(err, &he) && he.Status >= 400 && he.Status < 500 && !he.retryable()
}
