package testenv

import (
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// StorageFaults is an Azure SDK pipeline policy that answers chosen storage calls
// with a 503 Server Busy instead of sending them. Install it with
// store.WithPerCallPolicy: per-call policies run above the SDK's own retry policy, so
// an injected fault reaches the caller as a failure that survived the SDK's retries.
// It is safe for concurrent use.
type StorageFaults struct {
	mu     sync.Mutex
	calls  int                      // calls seen since the last Arm, FailMatching or Clear
	failAt int                      // fail the failAt-th call (1-based); 0 = none
	match  func(*http.Request) bool // fail every matching call; nil = none
	failed []string
}

var _ policy.Policy = (*StorageFaults)(nil)

// NewStorageFaults returns an injector that passes every call through until armed.
func NewStorageFaults() *StorageFaults { return &StorageFaults{} }

// FailNth restarts the call count and fails the n-th call from now (1-based), once.
func (f *StorageFaults) FailNth(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.failAt, f.match = 0, n, nil
}

// FailMatching restarts the call count and fails every call match accepts until Clear.
func (f *StorageFaults) FailMatching(match func(*http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.failAt, f.match = 0, 0, match
}

// Clear stops injecting and restarts the call count.
func (f *StorageFaults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.failAt, f.match = 0, 0, nil
}

// Calls is the number of storage calls seen since the last FailNth, FailMatching or
// Clear.
func (f *StorageFaults) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Failed lists the calls answered with a fault, as "METHOD /path".
func (f *StorageFaults) Failed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failed...)
}

// Do implements policy.Policy.
func (f *StorageFaults) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if !f.fault(raw) {
		return req.Next()
	}
	return &http.Response{
		Status:     "503 Server Busy",
		StatusCode: http.StatusServiceUnavailable,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":    {"application/json"},
			"X-Ms-Error-Code": {"ServerBusy"},
		},
		Body:    io.NopCloser(strings.NewReader(`{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":"injected by testenv.StorageFaults"}}}`)),
		Request: raw,
	}, nil
}

// fault counts the call and reports whether to fail it.
func (f *StorageFaults) fault(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if (f.failAt != 0 && f.calls == f.failAt) || (f.match != nil && f.match(r)) {
		f.failed = append(f.failed, r.Method+" "+r.URL.Path)
		return true
	}
	return false
}
