package pipeline_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/loganalytics"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

const laWorkspace = "63613592-b6f7-4c3d-a390-22ba13102111"

// withLogAnalytics points the pipeline's Log Analytics client at la and sets
// TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID to workspace (unset when "").
func withLogAnalytics(la *testenv.LogAnalytics, workspace string) harnessOption {
	return func(c *harnessConfig) {
		if workspace != "" {
			c.env = append(c.env, config.EnvLogAnalyticsWorkspace+"="+workspace)
		}
		c.opts = append(c.opts, pipeline.WithCredential(la.Credential()), pipeline.WithLogAnalyticsOptions(
			loganalytics.WithEndpoint(la.URL), loganalytics.WithTransport(la.Client),
			loganalytics.WithRetry(policy.RetryOptions{MaxRetries: -1}), loganalytics.WithTimeout(500*time.Millisecond)))
	}
}

// tick fires the sweep timer and returns the handler's HTTP status.
func (h *harness) tick(t *testing.T) int {
	t.Helper()
	env := host.TimerEnvelope(host.TimerBinding, host.TimerInfo{}, host.NewSys(pipeline.FuncSweep, h.clock.Now()))
	return h.call(t, pipeline.FuncSweep, env)
}

// queuedLists decodes every list task waiting in the harness's list-tasks queue.
func (h *harness) queuedLists(t *testing.T) []string {
	t.Helper()
	var repos []string
	for _, text := range drain(t, h.store.ListTasks()) {
		task, err := store.DecodeListTask(text)
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, task.Repository)
	}
	return repos
}

func (h *harness) activities(t *testing.T, repository string) []store.Activity {
	t.Helper()
	rows, err := h.store.ListActivity(context.Background(), h.registry, repository)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func pullEvent(h *harness, at time.Time, repo, digest, userAgent string) testenv.LogEvent {
	return testenv.LogEvent{TimeGenerated: at, OperationName: "Pull", LoginServer: h.registry,
		Repository: repo, Digest: digest, UserAgent: userAgent}
}

const dockerUA = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 os/linux arch/amd64"

const day = 24 * time.Hour

func TestSweepRecordsPullsPerDigestBeforeSendingListTasks(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/app:1"))
	la := testenv.StartLogAnalytics(t, laWorkspace)
	h := newHarness(t, reg.Host, withLogAnalytics(la, laWorkspace))
	now := h.clock.Now().UTC()
	other := "sha256:" + strings.Repeat("0", 64)
	la.Add(
		pullEvent(h, now.Add(-20*day), "demo/app", base.ManifestDigest, dockerUA),
		pullEvent(h, now.Add(-2*time.Hour), "demo/app", base.ManifestDigest, "containerd/v1.7.22"),
		pullEvent(h, now.Add(-time.Hour), "demo/app", base.ManifestDigest, dockerUA),
		pullEvent(h, now.Add(-time.Minute), "demo/app", base.ManifestDigest, "tidewatch/v1.0.0 go-containerregistry/v0.20.3"),
		pullEvent(h, now.Add(-31*day), "demo/app", base.ManifestDigest, dockerUA), // before the pull window
		pullEvent(h, now.Add(-3*day), "demo/app", other, dockerUA),
		testenv.LogEvent{TimeGenerated: now.Add(-day), OperationName: "Pull", LoginServer: "other.azurecr.io",
			Repository: "demo/app", Digest: other, UserAgent: dockerUA},
		pullEvent(h, now.Add(-day), "demo/../etc", other, dockerUA),      // not a repository: left out, listed
		pullEvent(h, now.Add(-day), "demo/app", "sha256:1234", dockerUA), // not a digest: left out, listed
	)

	if status := h.tick(t); status != okStatus {
		t.Fatalf("sweep: HTTP %d, want %d", status, okStatus)
	}
	want := []store.Activity{
		{Registry: h.registry, Repository: "demo/app", Digest: base.ManifestDigest, LastPulledAt: now.Add(-time.Hour),
			PullCount: 2 + 1, PullsCountedAt: now, Source: "loganalytics", PullSource: "loganalytics"},
		{Registry: h.registry, Repository: "demo/app", Digest: other, LastPulledAt: now.Add(-3 * day),
			PullCount: 1, PullsCountedAt: now, Source: "loganalytics", PullSource: "loganalytics"},
	}
	if diff := cmp.Diff(sortedActivity(want), sortedActivity(h.activities(t, "demo/app"))); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"demo/app"}, h.queuedLists(t)); diff != "" {
		t.Errorf("list tasks (-want +got):\n%s", diff)
	}
	run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), now.Format("20060102T150405Z"))
	if err != nil {
		t.Fatal(err)
	}
	if run.Failed != 0 || !strings.Contains(run.Failures, "2 rows left out") ||
		!strings.Contains(run.Failures, `"demo/../etc"`) || !strings.Contains(run.Failures, `"sha256:1234"`) {
		t.Errorf("runs row: Failed %d, Failures %q; want no failure and both bad rows listed", run.Failed, run.Failures)
	}
	reqs := la.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d queries, want one per registry per sweep", len(reqs))
	}
	if want := now.Add(-30*day).Format(time.RFC3339) + "/" + now.Format(time.RFC3339); reqs[0].Timespan != want {
		t.Errorf("query timespan %q, want the pull window %q", reqs[0].Timespan, want)
	}
}

func sortedActivity(rows []store.Activity) []store.Activity {
	out := append([]store.Activity(nil), rows...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Digest < out[i].Digest {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestAPullQueryThatFailsIsRecordedAndChangesNoActivity(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/app:1"))
	tests := []struct {
		name     string
		answer   func(http.ResponseWriter, *http.Request, []byte) bool
		wantText string
	}{
		{"a partial result is recorded as a failure and not taken as complete", testenv.PartialAnswer, "partial result"},
		{"a query that times out is recorded as a failure", testenv.HangingAnswer, "deadline exceeded"},
		{"a refused query is recorded as a permanent failure", testenv.StatusAnswer(http.StatusForbidden, "InsufficientAccessError"), "permanent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			la := testenv.StartLogAnalytics(t, laWorkspace)
			h := newHarness(t, reg.Host, withLogAnalytics(la, laWorkspace))
			first := h.clock.Now().UTC()
			la.Add(pullEvent(h, first.Add(-time.Hour), "demo/app", base.ManifestDigest, dockerUA))
			if status := h.tick(t); status != okStatus {
				t.Fatalf("first sweep: HTTP %d, want %d", status, okStatus)
			}
			before := h.activities(t, "demo/app")
			h.queuedLists(t)

			// Six hours on, more pulls happened, but the answer fails.
			h.clock.Set(first.Add(6 * time.Hour))
			la.Add(pullEvent(h, first.Add(5*time.Hour), "demo/app", base.ManifestDigest, dockerUA))
			la.Answer(tt.answer)
			if status := h.tick(t); status != http.StatusInternalServerError {
				t.Errorf("failed sweep: HTTP %d, want %d", status, http.StatusInternalServerError)
			}
			if diff := cmp.Diff(before, h.activities(t, "demo/app")); diff != "" {
				t.Errorf("activity changed by a failed query (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"demo/app"}, h.queuedLists(t)); diff != "" {
				t.Errorf("list tasks of the failed sweep (-want +got):\n%s", diff)
			}
			now := h.clock.Now().UTC()
			run, err := h.store.GetRun(context.Background(), now.Format(time.DateOnly), now.Format("20060102T150405Z"))
			if err != nil {
				t.Fatal(err)
			}
			if run.Failed != 1 || !strings.Contains(run.Failures, "reading pull activity") || !strings.Contains(run.Failures, tt.wantText) {
				t.Errorf("runs row: Failed %d, Failures %q; want 1 failure reading pull activity saying %q", run.Failed, run.Failures, tt.wantText)
			}

			// The next sweep asks again and records what the failed one missed.
			la.Answer(nil)
			h.clock.Set(first.Add(12 * time.Hour))
			if status := h.tick(t); status != okStatus {
				t.Fatalf("next sweep: HTTP %d, want %d", status, okStatus)
			}
			got := h.activities(t, "demo/app")
			if len(got) != 1 || got[0].PullCount != 2 || !got[0].LastPulledAt.Equal(first.Add(5*time.Hour)) {
				t.Errorf("activity after the next sweep = %+v, want 2 pulls, the last at %s", got, first.Add(5*time.Hour))
			}
		})
	}
}

func TestWithoutAWorkspaceTheSweepMakesNoQuery(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/app:1"))
	la := testenv.StartLogAnalytics(t, laWorkspace)
	h := newHarness(t, reg.Host, withLogAnalytics(la, ""))
	la.Add(pullEvent(h, h.clock.Now().Add(-time.Hour), "demo/app", base.ManifestDigest, dockerUA))
	if status := h.tick(t); status != okStatus {
		t.Fatalf("sweep: HTTP %d, want %d", status, okStatus)
	}
	if reqs := la.Requests(); len(reqs) != 0 {
		t.Errorf("%d queries without TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID, want none", len(reqs))
	}
	if rows := h.activities(t, "demo/app"); len(rows) != 0 {
		t.Errorf("activity %+v, want none", rows)
	}
}

// TestADigestPulledInsideThePullWindowIsScannedLongAfterItsPush pushes two images 200
// days ago (outside the 90-day push window); one was pulled 10 days ago, the other 40
// days ago (outside the 30-day pull window). Only the first is scanned.
func TestADigestPulledInsideThePullWindowIsScannedLongAfterItsPush(t *testing.T) {
	reg := testenv.StartRegistry(t)
	recent, stale := loadSidecar(t, minbase), loadSidecar(t, layered)
	push(t, minbase, reg.Ref("demo/pulled:1"))
	push(t, layered, reg.Ref("demo/stale:1"))
	la := testenv.StartLogAnalytics(t, laWorkspace)
	h := newHarness(t, reg.Host, withLogAnalytics(la, laWorkspace))
	now := h.clock.Now().UTC()

	// The pushes are observed 200 days ago; those scans are not what this test is about.
	h.clock.Set(now.Add(-200 * day))
	for _, repo := range []string{"demo/pulled", "demo/stale"} {
		if status := h.call(t, pipeline.FuncListRepo, delivery(pipeline.FuncListRepo, h.listTask(t, repo), 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("listrepo %s: HTTP %d", repo, status)
		}
	}
	drain(t, h.store.ScanTasks())

	h.clock.Set(now)
	la.Add(
		pullEvent(h, now.Add(-10*day), "demo/pulled", recent.ManifestDigest, dockerUA),
		pullEvent(h, now.Add(-40*day), "demo/stale", stale.ManifestDigest, dockerUA),
	)
	if status := h.tick(t); status != okStatus {
		t.Fatalf("sweep: HTTP %d, want %d", status, okStatus)
	}
	for _, text := range drain(t, h.store.ListTasks()) {
		if status := h.call(t, pipeline.FuncListRepo, delivery(pipeline.FuncListRepo, text, 1, host.HostEncoding)); status != okStatus {
			t.Fatalf("listrepo: HTTP %d", status)
		}
	}
	tasks := h.scanTasks(t)
	type scan struct{ Repository, Digest, Reason string }
	var got []scan
	for _, task := range tasks {
		got = append(got, scan{task.Repository, task.Digest, task.Reason})
	}
	if diff := cmp.Diff([]scan{{"demo/pulled", recent.ManifestDigest, store.ReasonPull}}, got); diff != "" {
		t.Fatalf("scan tasks (-want +got):\n%s", diff)
	}
	if status := h.call(t, pipeline.FuncScan, delivery(pipeline.FuncScan,
		h.scanTask(t, "demo/pulled", recent.ManifestDigest, "1"), 1, host.HostEncoding)); status != okStatus {
		t.Fatalf("scan: HTTP %d", status)
	}
	if img, ok := h.images(t, "demo/pulled")[recent.ManifestDigest]; !ok || img.Status != scanner.StatusScanned {
		t.Errorf("images row of the pulled digest = %+v, want scanned", img)
	}
	if rows := h.images(t, "demo/stale"); len(rows) != 0 {
		t.Errorf("images rows of the digest pulled 40 days ago = %+v, want none", rows)
	}
}
