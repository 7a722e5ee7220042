package store

import (
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Storage services, as a TransactionCounter names them.
const (
	ServiceTable = "table"
	ServiceQueue = "queue"
	ServiceBlob  = "blob"
)

// TransactionCounter counts the requests a Store sends, per service and resource
// (table, queue or container). Storage bills per request — an entity-group batch of up
// to 100 rows is one, a retried request is two — so each HTTP attempt counts once.
// It is safe for concurrent use.
type TransactionCounter struct {
	mu     sync.Mutex
	counts map[TransactionKey]int64
}

// TransactionKey is what a transaction is counted under.
type TransactionKey struct {
	Service  string // ServiceTable, ServiceQueue or ServiceBlob
	Resource string // the table, queue or container name; "" for account-level calls
	Method   string // the HTTP method
}

// NewTransactionCounter returns an empty counter.
func NewTransactionCounter() *TransactionCounter {
	return &TransactionCounter{counts: map[TransactionKey]int64{}}
}

// WithTransactionCounter counts every request of the Store's clients in c.
func WithTransactionCounter(c *TransactionCounter) Option {
	return func(o *options) { o.counter = c }
}

// Counts returns a copy of the counts so far.
func (c *TransactionCounter) Counts() map[TransactionKey]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[TransactionKey]int64, len(c.counts))
	for k, n := range c.counts {
		out[k] = n
	}
	return out
}

// ByService returns the counts so far summed per service.
func (c *TransactionCounter) ByService() map[string]int64 {
	out := map[string]int64{}
	for k, n := range c.Counts() {
		out[k.Service] += n
	}
	return out
}

// Keys returns the keys counted so far, sorted.
func (c *TransactionCounter) Keys() []TransactionKey {
	counts := c.Counts()
	keys := make([]TransactionKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Method < b.Method
	})
	return keys
}

func (c *TransactionCounter) add(k TransactionKey) {
	c.mu.Lock()
	c.counts[k]++
	c.mu.Unlock()
}

// policy is the pipeline policy counting one service's requests.
func (c *TransactionCounter) policy(service string) policy.Policy {
	return countingPolicy{counter: c, service: service}
}

type countingPolicy struct {
	counter *TransactionCounter
	service string
}

func (p countingPolicy) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	p.counter.add(TransactionKey{Service: p.service, Resource: resourceOf(r), Method: r.Method})
	return req.Next()
}

// resourceOf is the table, queue or container a request addresses: the first path
// segment, after the account name on path-style (emulator, loopback) endpoints. A
// table entity path "t(PartitionKey=…)" and "t()" count as table t.
func resourceOf(r *http.Request) string {
	segments := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if pathStyle(r.URL.Hostname()) && len(segments) > 0 {
		segments = segments[1:]
	}
	if len(segments) == 0 {
		return ""
	}
	name, _, _ := strings.Cut(segments[0], "(")
	return name
}

// pathStyle reports whether host addresses the account in the path (Azurite).
func pathStyle(host string) bool {
	return host == "localhost" || net.ParseIP(host) != nil
}
