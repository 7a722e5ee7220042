package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// serviceError builds the error the SDK returns for a service answer with status.
func serviceError(status int, code string) error {
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:10002/devstoreaccount1/layers", nil)
	resp := &http.Response{StatusCode: status, Status: http.StatusText(status), Request: req,
		Header: http.Header{"X-Ms-Error-Code": {code}}, Body: io.NopCloser(strings.NewReader(""))}
	return fmt.Errorf("writing layer: %w", runtime.NewResponseError(resp))
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a 503 server busy is not permanent", serviceError(http.StatusServiceUnavailable, "ServerBusy"), false},
		{"a 500 is not permanent", serviceError(http.StatusInternalServerError, "InternalError"), false},
		{"a 429 is not permanent", serviceError(http.StatusTooManyRequests, ""), false},
		{"a 408 is not permanent", serviceError(http.StatusRequestTimeout, "OperationTimedOut"), false},
		{"a 409 race is not permanent", serviceError(http.StatusConflict, "EntityAlreadyExists"), false},
		{"a 412 race is not permanent", serviceError(http.StatusPreconditionFailed, "UpdateConditionNotSatisfied"), false},
		{"a 404 is not permanent", serviceError(http.StatusNotFound, "ResourceNotFound"), false},
		{"a 400 for an entity over the limits is permanent", serviceError(http.StatusBadRequest, "PropertyValueTooLarge"), true},
		{"a 413 request entity too large is permanent", serviceError(http.StatusRequestEntityTooLarge, "RequestBodyTooLarge"), true},
		{"a bad message is permanent", fmt.Errorf("decoding: %w", ErrBadMessage), true},
		{"a network error is not permanent", &url.Error{Op: "Put", URL: "http://127.0.0.1:10002/", Err: io.ErrUnexpectedEOF}, false},
		{"a spent context is not permanent", fmt.Errorf("writing: %w", context.DeadlineExceeded), false},
		{"an error it does not recognise is not permanent", errors.New("something odd"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
