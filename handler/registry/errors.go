package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrBudgetExhausted reports that Retry stopped because the context deadline left no
// room for the next wait or attempt. It is transient: the work should be handed back
// to the queue, not recorded as failed.
var ErrBudgetExhausted = errors.New("registry: retry budget exhausted")

// Error is a failed registry operation. Status and RetryAfter are copied from the
// registry's response when there was one.
type Error struct {
	// Op is what was being done, e.g. "list repositories" or "resolve".
	Op string
	// Ref is the registry host or the full reference ("host/repo:tag").
	Ref string
	// Status is the HTTP status of the failing response, or 0.
	Status int
	// RetryAfter is the wait the registry asked for, or 0.
	RetryAfter time.Duration
	// Err is the cause.
	Err error
}

// Error says what was being done, on which reference, and the cause.
func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Op, e.Ref, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// newError wraps err as an *Error for op on ref, lifting the status and Retry-After
// out of the cause chain. A nil err stays nil.
func newError(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	wait, _ := retryAfterOf(err)
	return &Error{Op: op, Ref: ref, Status: statusOf(err), RetryAfter: wait, Err: err}
}

// throttled is a response that carried Retry-After. The client's transport turns such
// responses into this error so the requested wait survives go-containerregistry,
// whose own error type drops response headers.
type throttled struct {
	status     int
	retryAfter time.Duration
	err        error
}

func (t *throttled) Error() string {
	return fmt.Sprintf("%v (retry after %s)", t.err, t.retryAfter)
}

func (t *throttled) Unwrap() error { return t.err }

// statusOf returns the HTTP status carried anywhere in err's chain, or 0.
func statusOf(err error) int {
	var re *Error
	if errors.As(err, &re) && re.Status != 0 {
		return re.Status
	}
	var th *throttled
	if errors.As(err, &th) {
		return th.status
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// retryAfterOf returns the wait a registry asked for anywhere in err's chain.
func retryAfterOf(err error) (time.Duration, bool) {
	var re *Error
	if errors.As(err, &re) && re.RetryAfter > 0 {
		return re.RetryAfter, true
	}
	var th *throttled
	if errors.As(err, &th) {
		return th.retryAfter, true
	}
	return 0, false
}

// RetryAfter returns the wait the registry asked for (its Retry-After header)
// anywhere in err's chain, and whether it asked at all.
func RetryAfter(err error) (time.Duration, bool) { return retryAfterOf(err) }

// IsPermanent reports whether err is a registry failure that no retry can fix: the
// registry answered that the request is wrong for good (400, 401 and 403 after the
// client's auth flow ran, 404 unknown name, manifest or blob, 405, 410, 501, 505), or
// the content did not match its digest. It is deliberately narrow: errors it does not
// recognise are not permanent, and callers treat them as transient. A retry budget
// spent on a transient failure is never permanent.
func IsPermanent(err error) bool {
	switch {
	case err == nil, IsTransient(err):
		return false
	case permanentStatus(statusOf(err)), permanentDiagnostic(err), digestMismatch(err):
		return true
	}
	return false
}

// permanentStatus reports an HTTP status that says the request itself is wrong.
func permanentStatus(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusGone, http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return true
	}
	return false
}

// permanentDiagnostic reports a distribution error code that no retry changes.
func permanentDiagnostic(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode,
			transport.ManifestInvalidErrorCode, transport.NameInvalidErrorCode, transport.DigestInvalidErrorCode,
			transport.UnsupportedErrorCode, transport.DeniedErrorCode, transport.UnauthorizedErrorCode:
			return true
		}
	}
	return false
}

// digestMismatch recognises go-containerregistry's verification failures, which it
// reports only as text: a manifest whose digest differs from the one requested, and a
// blob whose bytes do not hash to its digest.
func digestMismatch(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "does not match requested digest") ||
		strings.Contains(msg, "error verifying sha256 checksum")
}

// IsTransient reports whether retrying the operation that returned err may succeed:
// rate limiting (429), request timeout (408), server errors (5xx except 501/505),
// connection resets/refusals, network timeouts, a body cut off mid-stream, a spent
// context or ErrBudgetExhausted. Everything else is not worth retrying within one
// invocation; that is not the same as permanent (see IsPermanent).
func IsTransient(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrBudgetExhausted),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		return true
	}
	if status := statusOf(err); status != 0 {
		return transientStatus(status) || tooManyRequests(err)
	}
	return transientNetwork(err)
}

// transientStatus reports whether an HTTP status is worth retrying.
func transientStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500 && status <= 599
}

// tooManyRequests reports a TOOMANYREQUESTS diagnostic sent with an unusual status.
func tooManyRequests(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.TooManyRequestsErrorCode {
			return true
		}
	}
	return false
}

// transientNetwork reports connection-level failures and truncated bodies.
func transientNetwork(err error) bool {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed):
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// A server that closes the connection before answering surfaces as a bare EOF
	// inside the request error; a bare io.EOF elsewhere is a normal end of stream.
	var ue *url.Error
	return errors.As(err, &ue) && errors.Is(ue.Err, io.EOF)
}
