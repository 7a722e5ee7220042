package host

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// deferredError marks a task that was put back on its queue to run later.
type deferredError struct {
	delay time.Duration
	err   error
}

func (e *deferredError) Error() string {
	return fmt.Sprintf("deferred by %s: %v", e.delay, e.err)
}

func (e *deferredError) Unwrap() error { return e.err }

// Deferred reports that the Func re-enqueued its task to become visible after delay
// (because of cause, e.g. a registry's Retry-After): the server answers 200 so the
// host deletes this message, and says so in the response's Logs (see
// [DeferredDelay]). Deferred with a nil cause is nil.
func Deferred(delay time.Duration, cause error) error {
	if cause == nil {
		return nil
	}
	return &deferredError{delay: delay, err: cause}
}

// deferredLogPrefix starts the Logs line of a deferred invocation; the delay in
// whole seconds follows.
const deferredLogPrefix = "deferred: re-enqueued, visible again in "

func deferredLog(e *deferredError) string {
	return fmt.Sprintf("%s%ds: %v", deferredLogPrefix, int64(e.delay/time.Second), e.err)
}

// DeferredDelay reads the delay back from a response's Logs: a local stand-in for
// the host uses it to tell a deferred task from a lost one.
func DeferredDelay(resp Response) (time.Duration, bool) {
	for _, line := range resp.Logs {
		rest, ok := strings.CutPrefix(line, deferredLogPrefix)
		if !ok {
			continue
		}
		var secs int64
		if _, err := fmt.Sscanf(rest, "%ds:", &secs); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
	}
	return 0, false
}

// IsDeferred reports whether err, or any error it wraps, was made by Deferred.
func IsDeferred(err error) bool {
	_, ok := isDeferred(err)
	return ok
}

// isDeferred returns the deferral err carries, if any.
func isDeferred(err error) (*deferredError, bool) {
	var d *deferredError
	ok := errors.As(err, &d)
	return d, ok
}
