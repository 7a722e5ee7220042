package pipeline_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// clock is a settable time source for pipeline.WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// startOfTest is a fixed time at the shared advisory fixtures' retrieval (so they are
// fresh however long ago the checkout was) that leaves the rest of the hour, and so of
// the UTC day, for offsets.
func startOfTest(t testing.TB) time.Time {
	return testenv.AdvisoryTime(t, testenv.Advisories(t)).Truncate(time.Hour)
}

// harness is the custom handler of one pipeline, over its own suffixed tables and
// queues in Azurite, served on a loopback port like the Functions host would call it.
type harness struct {
	store    *store.Store
	base     string
	registry string
	clock    *clock
	suffix   string
	// runID is the run outcomeOf reads ("test-run" when empty).
	runID string
}

type harnessConfig struct {
	advisories string
	env        []string
	auth       string // the registry's auth mode (default anonymous)
	shared     *harness
	opts       []pipeline.Option
	storeOpts  []store.Option
	hostOpts   []host.Option
}

type harnessOption func(*harnessConfig)

// withACR configures the registry with auth acr, authenticated by cred instead of
// a managed identity.
func withACR(cred azcore.TokenCredential) harnessOption {
	return func(c *harnessConfig) {
		c.auth = "acr"
		c.opts = append(c.opts, pipeline.WithRegistryOptions(registry.WithACRCredential(cred)))
	}
}

// withAdvisories points TIDEWATCH_ADVISORIES_URL at dir.
func withAdvisories(dir string) harnessOption {
	return func(c *harnessConfig) { c.advisories = dir }
}

// sharingStorageWith makes a second pipeline over other's tables, queues and blobs
// (e.g. with other advisories); other's test cleans them up.
func sharingStorageWith(other *harness) harnessOption {
	return func(c *harnessConfig) { c.shared = other }
}

// withStoreOptions adds store options (a request-counting policy, fault injection).
func withStoreOptions(opts ...store.Option) harnessOption {
	return func(c *harnessConfig) { c.storeOpts = append(c.storeOpts, opts...) }
}

// withPipelineOptions adds pipeline options.
func withPipelineOptions(opts ...pipeline.Option) harnessOption {
	return func(c *harnessConfig) { c.opts = append(c.opts, opts...) }
}

// withHostOptions adds custom-handler server options (budget).
func withHostOptions(opts ...host.Option) harnessOption {
	return func(c *harnessConfig) { c.hostOpts = append(c.hostOpts, opts...) }
}

// newHarness serves a pipeline configured for the anonymous registry at registryHost.
// Registry calls are tried once: faults reach the pipeline instead of being retried.
func newHarness(t *testing.T, registryHost string, opts ...harnessOption) *harness {
	t.Helper()
	hc := harnessConfig{advisories: testenv.Advisories(t), auth: "anonymous"}
	for _, o := range opts {
		o(&hc)
	}
	cs := testenv.Storage(t)
	cfg, err := config.Load(append([]string{
		config.EnvRegistries + "=" + registryHost + "=" + hc.auth,
		config.EnvStorage + "=" + cs,
		config.EnvAdvisoriesURL + "=" + hc.advisories,
	}, hc.env...))
	if err != nil {
		t.Fatalf("loading config: %v", err)
	}
	ctx := context.Background()
	suffix := testenv.Name(t)
	if hc.shared != nil {
		suffix = hc.shared.suffix
	}
	st, err := store.Open(ctx, store.Config{ConnectionString: cs}, append([]store.Option{store.WithNameSuffix(suffix)}, hc.storeOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureResources(ctx); err != nil {
		t.Fatal(err)
	}
	if hc.shared == nil {
		t.Cleanup(func() {
			if err := st.DeleteResources(context.Background()); err != nil {
				t.Logf("deleting test resources: %v", err)
			}
		})
	}
	clk := &clock{now: startOfTest(t)}
	popts := append([]pipeline.Option{
		pipeline.WithClock(clk.Now),
		pipeline.WithRegistryOptions(registry.WithRetry(registry.RetryPolicy{Attempts: 1})),
	}, hc.opts...)
	p, err := pipeline.New(cfg, st, "test", popts...)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv := httptest.NewServer(host.NewServer(log, p.Functions(), append([]host.Option{host.WithHTTPFunctions(p.HTTPFunctions())}, hc.hostOpts...)...))
	t.Cleanup(srv.Close)
	return &harness{store: st, base: srv.URL, registry: registryHost, clock: clk, suffix: suffix}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// call POSTs env to function and returns the HTTP status.
func (h *harness) call(t *testing.T, function string, env host.Envelope) int {
	t.Helper()
	status, _, err := host.Call(context.Background(), h.base, function, env)
	if err != nil {
		t.Fatalf("calling %s: %v", function, err)
	}
	return status
}

// delivery is one queue delivery of text, as the host would make it, of a message
// with a fresh id: deliver the returned envelope again for a redelivery.
func delivery(function string, text []byte, dequeueCount int, enc host.Encoding) host.Envelope {
	return deliveryOf(rand.Text(), function, text, dequeueCount, enc)
}

// deliveryOf is one delivery of the queue message with the given id.
func deliveryOf(id, function string, text []byte, dequeueCount int, enc host.Encoding) host.Envelope {
	now := time.Now().UTC()
	return host.QueueEnvelope(host.QueueBinding, host.QueueTrigger{
		Text: text, ID: id, PopReceipt: "AgAAAAMAAAAAAAAA",
		DequeueCount: dequeueCount, InsertionTime: now, ExpirationTime: now.Add(7 * 24 * time.Hour),
		NextVisibleTime: now.Add(10 * time.Minute),
	}, host.NewSys(function, now), enc)
}

// scanTask is the scan task for image@digest of repository, tagged tags.
func (h *harness) scanTask(t *testing.T, repository, digest string, tags ...string) []byte {
	t.Helper()
	b, err := store.EncodeScanTask(store.ScanTask{Registry: h.registry, Repository: repository, Digest: digest,
		Tags: tags, Reason: store.ReasonPush, RunID: "test-run"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// listTask is the list task for repository with the default windows.
func (h *harness) listTask(t *testing.T, repository string) []byte {
	t.Helper()
	b, err := store.EncodeListTask(store.ListTask{Registry: h.registry, Repository: repository, RunID: "test-run",
		Window: store.Window{PushDays: config.DefaultPushDays, PullDays: config.DefaultPullDays}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// images returns the images rows of repository keyed by platform digest.
func (h *harness) images(t *testing.T, repository string) map[string]store.Image {
	t.Helper()
	rows, err := h.store.ListImages(context.Background(), h.registry, repository)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Image{}
	for _, r := range rows {
		out[r.Digest] = r
	}
	return out
}

// findings returns the findings rows of a platform digest keyed by RowKey.
func (h *harness) findings(t *testing.T, digest string) map[string]store.Finding {
	t.Helper()
	rows, err := h.store.ListFindings(context.Background(), store.FindingFilter{Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Finding{}
	for _, f := range rows {
		out[f.RowKey()] = f
	}
	return out
}

// drain receives every visible message of q and returns their texts (the messages
// stay invisible for a minute).
func drain(t *testing.T, q *store.Queue) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		msgs, err := q.Receive(context.Background(), 32, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			out = append(out, m.Text)
		}
	}
}

// scanTasks decodes every scan task waiting in the harness's scan-tasks queue, a
// batch task as its single-digest tasks: what is asked, one task per digest.
func (h *harness) scanTasks(t *testing.T) []store.ScanTask {
	t.Helper()
	var out []store.ScanTask
	for _, task := range h.scanMessages(t) {
		out = append(out, task.Each()...)
	}
	return out
}

// scanMessages decodes every scan task waiting in the harness's scan-tasks queue,
// one per message.
func (h *harness) scanMessages(t *testing.T) []store.ScanTask {
	t.Helper()
	var out []store.ScanTask
	for _, text := range drain(t, h.store.ScanTasks()) {
		var task store.ScanTask
		if err := json.Unmarshal(text, &task); err != nil {
			t.Fatalf("scan task %s: %v", text, err)
		}
		out = append(out, task)
	}
	return out
}

// okStatus is the HTTP status the handler answers for a completed invocation.
const okStatus = http.StatusOK
