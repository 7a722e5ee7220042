package pipeline_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// gateProxy sits in front of a real registry and holds the first request whose path
// contains match until release is called: a scan in flight, held at a point the
// test chooses, without sleeping.
type gateProxy struct {
	Host    string
	arrived chan struct{} // closed when the held request arrives

	hold, free sync.Once
	released   chan struct{}
}

func startGateProxy(t *testing.T, registryHost, match string) *gateProxy {
	t.Helper()
	target, err := url.Parse("http://" + registryHost)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateProxy{arrived: make(chan struct{}), released: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, match) {
			g.hold.Do(func() {
				close(g.arrived)
				<-g.released
			})
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.release) // never leave a request held past the test
	g.Host = strings.TrimPrefix(srv.URL, "http://")
	return g
}

// release lets the held request (and every later one) through.
func (g *gateProxy) release() { g.free.Do(func() { close(g.released) }) }

// pointerOf reads current.json as the blob says, without Tidewatch's types.
func (h *harness) pointerOf(t *testing.T) (generation string, checkedAt time.Time) {
	t.Helper()
	data, err := h.store.Advisories().Download(context.Background(), "current.json")
	if err != nil {
		t.Fatalf("reading current.json: %v", err)
	}
	var p struct {
		Generation string    `json:"generation"`
		CheckedAt  time.Time `json:"checkedAt"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Generation == "" {
		t.Fatalf("current.json %s: %v", data, err)
	}
	return p.Generation, p.CheckedAt
}

// scanIn is one delivery of a scan task of repository@digest counted in run runID.
func (h *harness) scanIn(t *testing.T, runID, repository, digest string) host.Envelope {
	t.Helper()
	text, err := store.EncodeScanTask(store.ScanTask{Registry: h.registry, Repository: repository, Digest: digest,
		Tags: []string{"1"}, Reason: store.ReasonPush, RunID: runID})
	if err != nil {
		t.Fatal(err)
	}
	return delivery(pipeline.FuncScan, text, 1, host.HostEncoding)
}

// used is what a row says about the advisory generation it used.
type used struct {
	Generation string
	CheckedAt  time.Time
}

func TestAGenerationSwitchWhileAScanRunsLeavesEachScanOnTheGenerationItLoaded(t *testing.T) {
	reg := testenv.StartRegistry(t)
	oracle := testenv.NewDebianOracle(t)
	base := loadSidecar(t, minbase)
	want := expected(t, oracle, base, "linux/amd64")
	var gone [2]string // the finding generation B no longer has
	for k := range want {
		if gone == ([2]string{}) || k[0] < gone[0] {
			gone = k
		}
	}
	wantB := allIn(want, active)
	delete(wantB, gone) // never seen by a scan of B, so no row at all
	push(t, minbase, reg.Ref("demo/early:1"))
	push(t, minbase, reg.Ref("demo/late:1"))
	gate := startGateProxy(t, reg.Host, "/demo/early/blobs/")
	b := startBucket(t)
	h := newHarness(t, gate.Host, withAdvisories(b.URL))
	ctx := context.Background()
	start := h.clock.Now()

	if status := h.syncAdvisories(t); status != okStatus {
		t.Fatalf("sync of generation A: HTTP %d", status)
	}
	genA, checkedA := h.pointerOf(t)

	// The early scan loads A and is held at its first blob request (the image
	// config, read after the index is in hand).
	early, earlyScan := make(chan int, 1), h.scanIn(t, "run-early", "demo/early", base.ManifestDigest)
	go func() {
		status, _, err := host.Call(ctx, h.base, pipeline.FuncScan, earlyScan)
		if err != nil {
			t.Errorf("early scan: %v", err)
		}
		early <- status
	}()
	<-gate.arrived

	// While it is held, an export without one CVE is synced into generation B and
	// the pointer recheck interval passes.
	b.serve(advisoriesWithout(t, gone[0]))
	h.clock.Set(start.Add(time.Minute))
	if status := h.syncAdvisories(t); status != okStatus {
		t.Fatalf("sync of generation B: HTTP %d", status)
	}
	genB, checkedB := h.pointerOf(t)
	if genB == genA {
		t.Fatal("the export without the CVE did not make a new generation")
	}
	h.clock.Set(start.Add(5 * time.Minute))
	if status := h.call(t, pipeline.FuncScan, h.scanIn(t, "run-late", "demo/late", base.ManifestDigest)); status != okStatus {
		t.Fatalf("late scan: HTTP %d", status)
	}
	gate.release()
	if status := <-early; status != okStatus {
		t.Fatalf("early scan: HTTP %d", status)
	}

	rowsOf := func(repository string) used {
		img := h.images(t, repository)[base.ManifestDigest]
		return used{Generation: img.Generation}
	}
	runOf := func(runID string) used {
		run, err := h.store.GetRun(ctx, start.UTC().Format(time.DateOnly), runID)
		if err != nil {
			t.Fatalf("reading run %s: %v", runID, err)
		}
		return used{run.Generation, run.AdvisoryCheckedAt}
	}
	for _, tc := range []struct {
		name       string
		repository string
		runID      string
		want       used
		findings   map[[2]string]rowState
	}{
		{
			name: "the scan that loaded A before the switch finishes writing A and A's findings", repository: "demo/early", runID: "run-early",
			want: used{genA, checkedA}, findings: allIn(want, active),
		},
		{
			name: "the scan after the pointer recheck writes B and B's findings", repository: "demo/late", runID: "run-late",
			want: used{genB, checkedB}, findings: wantB,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(used{Generation: tc.want.Generation}, rowsOf(tc.repository)); diff != "" {
				t.Errorf("images row generation (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, runOf(tc.runID)); diff != "" {
				t.Errorf("runs row generation and check (-want +got):\n%s", diff)
			}
			// The generation named and the records matched are the same one: the
			// findings are those of the named generation's export.
			if diff := cmp.Diff(tc.findings, h.states(t, tc.repository, base.ManifestDigest)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
