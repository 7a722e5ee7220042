package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/tidewatch/tidewatch/handler/registry"
)

func TestIsTransient(t *testing.T) {
	status := func(code int, diag ...transport.ErrorCode) error {
		te := &transport.Error{StatusCode: code}
		for _, d := range diag {
			te.Errors = append(te.Errors, transport.Diagnostic{Code: d})
		}
		return &registry.Error{Op: "resolve", Ref: "r.example/a:1", Status: code, Err: te}
	}
	dial := func(errno syscall.Errno) error {
		return &url.Error{Op: "Get", URL: "http://r.example/v2/", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errno)}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no error is not transient", nil, false},
		{"429 too many requests is transient", status(http.StatusTooManyRequests, transport.TooManyRequestsErrorCode), true},
		{"408 request timeout is transient", status(http.StatusRequestTimeout), true},
		{"500 internal server error is transient", status(http.StatusInternalServerError), true},
		{"502 bad gateway is transient", status(http.StatusBadGateway), true},
		{"503 unavailable is transient", status(http.StatusServiceUnavailable), true},
		{"504 gateway timeout is transient", status(http.StatusGatewayTimeout), true},
		{"a bare ggcr 503 error is transient", &transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{"TOOMANYREQUESTS sent with 403 is transient", status(http.StatusForbidden, transport.TooManyRequestsErrorCode), true},
		{"501 not implemented is permanent", status(http.StatusNotImplemented), false},
		{"401 unauthorized is permanent", status(http.StatusUnauthorized, transport.UnauthorizedErrorCode), false},
		{"403 denied is permanent", status(http.StatusForbidden, transport.DeniedErrorCode), false},
		{"404 manifest unknown is permanent", status(http.StatusNotFound, transport.ManifestUnknownErrorCode), false},
		{"404 name unknown is permanent", status(http.StatusNotFound, transport.NameUnknownErrorCode), false},
		{"400 manifest invalid is permanent", status(http.StatusBadRequest, transport.ManifestInvalidErrorCode), false},
		{"connection reset is transient", dial(syscall.ECONNRESET), true},
		{"connection refused is transient", dial(syscall.ECONNREFUSED), true},
		{"broken pipe is transient", dial(syscall.EPIPE), true},
		{"a network timeout is transient", &url.Error{Op: "Get", URL: "http://r.example/", Err: &net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}}, true},
		{"a connection closed before the response is transient", &url.Error{Op: "Get", URL: "http://r.example/", Err: io.EOF}, true},
		{"a body cut short while reading a layer is transient", fmt.Errorf("reading layer sha256:ab: %w", io.ErrUnexpectedEOF), true},
		{"a spent deadline is transient", fmt.Errorf("fetching: %w", context.DeadlineExceeded), true},
		{"an exhausted retry budget is transient", fmt.Errorf("%w: deadline passed", registry.ErrBudgetExhausted), true},
		{"a digest mismatch is permanent", errors.New(`error verifying sha256 checksum after reading 512 bytes; got "sha256:aa", want "sha256:bb"`), false},
		{"a malformed manifest is permanent", fmt.Errorf("parsing manifest: %w", errors.New("invalid character 'x' looking for beginning of value")), false},
		{"a bare end of stream is not a fault", io.EOF, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := registry.IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorNamesOperationAndReferenceAndUnwraps(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	err := error(&registry.Error{Op: "fetch", Ref: "r.example/team/api:1", Err: cause})
	if got, want := err.Error(), "fetch r.example/team/api:1: unexpected EOF"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is does not reach the cause")
	}
}

func TestIsPermanent(t *testing.T) {
	status := func(code int, diag ...transport.ErrorCode) error {
		te := &transport.Error{StatusCode: code}
		for _, d := range diag {
			te.Errors = append(te.Errors, transport.Diagnostic{Code: d})
		}
		return &registry.Error{Op: "resolve", Ref: "r.example/a:1", Status: code, Err: te}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no error is not permanent", nil, false},
		{"404 manifest unknown is permanent", status(http.StatusNotFound, transport.ManifestUnknownErrorCode), true},
		{"404 name unknown is permanent", status(http.StatusNotFound, transport.NameUnknownErrorCode), true},
		{"400 manifest invalid is permanent", status(http.StatusBadRequest, transport.ManifestInvalidErrorCode), true},
		{"401 after the auth flow is permanent", status(http.StatusUnauthorized, transport.UnauthorizedErrorCode), true},
		{"403 denied is permanent", status(http.StatusForbidden, transport.DeniedErrorCode), true},
		{"501 not implemented is permanent", status(http.StatusNotImplemented), true},
		{"a manifest digest mismatch is permanent", fmt.Errorf("fetch: %w", errors.New(`manifest digest: "sha256:aa" does not match requested digest: "sha256:bb" for "r.example/a@sha256:bb"`)), true},
		{"a blob checksum mismatch is permanent", errors.New(`error verifying sha256 checksum after reading 512 bytes; got "sha256:aa", want "sha256:bb"`), true},
		{"429 is not permanent", status(http.StatusTooManyRequests), false},
		{"TOOMANYREQUESTS sent with 403 is not permanent", status(http.StatusForbidden, transport.TooManyRequestsErrorCode), false},
		{"503 is not permanent", status(http.StatusServiceUnavailable), false},
		{"an exhausted retry budget after a 404 body read is not permanent", fmt.Errorf("%w: deadline passed: %w", registry.ErrBudgetExhausted, io.ErrUnexpectedEOF), false},
		{"an error it does not recognise is not permanent", errors.New("something odd happened"), false},
		{"a malformed manifest body is not recognised, so not permanent", errors.New("invalid character 'x' looking for beginning of value"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := registry.IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
