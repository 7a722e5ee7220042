package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// fakeRegistry is one registry's repositories and tags (repository → tag → digest).
// errs makes the named operation ("Repositories", "Tags", "Resolve", "Target") fail.
type fakeRegistry struct {
	repos map[string]map[string]string
	errs  map[string]error
}

// RepositoryPages hands the repositories over sorted, in one page.
func (r fakeRegistry) RepositoryPages(ctx context.Context, page func(context.Context, []string) error) error {
	if err := r.errs["Repositories"]; err != nil {
		return err
	}
	var out []string
	for repo := range r.repos {
		out = append(out, repo)
	}
	slices.Sort(out)
	return page(ctx, out)
}

func (r fakeRegistry) Tags(_ context.Context, repo string) ([]string, error) {
	if err := r.errs["Tags"]; err != nil {
		return nil, err
	}
	var out []string
	for tag := range r.repos[repo] {
		out = append(out, tag)
	}
	slices.Sort(out)
	return out, nil
}

func (r fakeRegistry) Resolve(_ context.Context, repo, tag string) (registry.Manifest, error) {
	if err := r.errs["Resolve"]; err != nil {
		return registry.Manifest{}, err
	}
	d, ok := r.repos[repo][tag]
	if !ok {
		return registry.Manifest{}, &registry.Error{Op: "resolving", Ref: repo + ":" + tag, Status: 404, Err: errors.New("manifest unknown")}
	}
	h, err := v1.NewHash(d)
	if err != nil {
		return registry.Manifest{}, err
	}
	return registry.Manifest{Digest: h}, nil
}

func (r fakeRegistry) Target(context.Context, string) (*image.Target, error) {
	if err := r.errs["Target"]; err != nil {
		return nil, err
	}
	return nil, errors.New("fakeRegistry serves no images")
}

func (r fakeRegistry) Retry(ctx context.Context, op func(ctx context.Context) error) error {
	return op(ctx)
}

// Test fixtures.
const (
	testRegistry = "registry.test"
	testRepo     = "team/app"
)

func digestOf(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

var (
	digestA = digestOf('a')
	digestB = digestOf('b')
	digestC = digestOf('c')
)

// testNow is the fixed clock of the unit tests: early in a UTC day.
var testNow = time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)

// unitPipeline is a pipeline over m with one fake registry, clocked at testNow.
func unitPipeline(t *testing.T, m *memStore, reg fakeRegistry) *Pipeline {
	t.Helper()
	cfg := &config.Config{Registries: []config.Registry{{Host: testRegistry}}, PushDays: 7, PullDays: 30}
	p := newPipeline(cfg, m.stores(), "test", WithClock(func() time.Time { return testNow }))
	p.registries[testRegistry] = reg
	return p
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// queueInvocation is the host's request for one delivery of a queue message.
func queueInvocation(t testing.TB, function string, text []byte, messageID string, dequeueCount int) *host.Invocation {
	t.Helper()
	data, err := json.Marshal(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return &host.Invocation{
		Function:     function,
		InvocationID: fmt.Sprintf("invocation-%s-%d", messageID, dequeueCount),
		Data:         map[string]json.RawMessage{host.QueueBinding: data},
		Metadata: map[string]json.RawMessage{
			"Id":           json.RawMessage(strconv.Quote(messageID)),
			"DequeueCount": json.RawMessage(strconv.Itoa(dequeueCount)),
		},
	}
}
