package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// acrCredential is the managed identity the fake ACR accepts.
type acrCredential struct{ token string }

func (c acrCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// newACRHarness serves a pipeline whose one registry is the fake ACR f (auth acr).
func newACRHarness(t *testing.T, f *testenv.ACR, opts ...harnessOption) *harness {
	t.Helper()
	return newHarness(t, f.Host, append([]harnessOption{withACR(acrCredential{f.AADToken})}, opts...)...)
}

// takeListTasks receives and deletes every waiting list task and returns them.
func (h *harness) takeListTasks(t *testing.T) []store.ListTask {
	t.Helper()
	ctx := context.Background()
	var out []store.ListTask
	for {
		msgs, err := h.store.ListTasks().Receive(ctx, 32, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			sort.Slice(out, func(i, j int) bool { return out[i].Repository < out[j].Repository })
			return out
		}
		for _, m := range msgs {
			var task store.ListTask
			if err := json.Unmarshal(m.Text, &task); err != nil {
				t.Fatalf("list task %s: %v", m.Text, err)
			}
			out = append(out, task)
			if err := h.store.ListTasks().Delete(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runList delivers task to listrepo and returns the HTTP status.
func (h *harness) runList(t *testing.T, task store.ListTask) int {
	t.Helper()
	text, err := store.EncodeListTask(task)
	if err != nil {
		t.Fatal(err)
	}
	return h.call(t, pipeline.FuncListRepo, delivery(pipeline.FuncListRepo, text, 1, host.HostEncoding))
}

// digestOf is a well-formed sha256 digest made of one repeated hex character.
func digestOf(c string) string { return "sha256:" + strings.Repeat(c, 64) }

func TestACRSweepSendsListTasksOnlyForRepositoriesThatChanged(t *testing.T) {
	f := testenv.StartACR(t, "")
	h := newACRHarness(t, f)
	start := h.clock.Now()
	pushed := start.Add(-time.Hour).UTC()
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("a"), CreatedTime: pushed, LastUpdateTime: pushed, Tags: []string{"1"}})
	f.SetManifest("team/web", testenv.ACRManifest{Digest: digestOf("b"), CreatedTime: pushed, LastUpdateTime: pushed, Tags: []string{"1"}})

	// sweep ticks at the given time, lists what it sent, and returns the repositories
	// it sent list tasks for and the requests it (and the listings) made per endpoint.
	sweep := func(t *testing.T, at time.Time) ([]string, map[string]int) {
		t.Helper()
		before := f.Counts()
		h.clock.Set(at)
		if status := h.tick(t); status != okStatus {
			t.Fatalf("sweep: HTTP %d", status)
		}
		var repos []string
		for _, task := range h.takeListTasks(t) {
			repos = append(repos, task.Repository)
			if status := h.runList(t, task); status != okStatus {
				t.Fatalf("listrepo %s: HTTP %d", task.Repository, status)
			}
		}
		made := map[string]int{}
		for endpoint, n := range f.Counts() {
			if n-before[endpoint] > 0 {
				made[endpoint] = n - before[endpoint]
			}
		}
		delete(made, testenv.ACRExchange) // token plumbing, checked in the registry package
		delete(made, testenv.ACRToken)
		delete(made, testenv.ACRPing)
		return repos, made
	}

	t.Run("the first sweep lists every repository with one manifest listing each and no per-tag requests", func(t *testing.T) {
		repos, made := sweep(t, start)
		if diff := cmp.Diff([]string{"team/api", "team/web"}, repos); diff != "" {
			t.Errorf("list tasks (-want +got):\n%s", diff)
		}
		want := map[string]int{testenv.ACRCatalog: 1, testenv.ACRRepository: 2, testenv.ACRManifests: 2}
		if diff := cmp.Diff(want, made); diff != "" {
			t.Errorf("requests per endpoint (-want +got):\n%s", diff)
		}
	})
	t.Run("a second sweep with nothing changed sends no list task", func(t *testing.T) {
		repos, made := sweep(t, start.Add(time.Hour))
		if len(repos) != 0 {
			t.Errorf("list tasks for %v, want none", repos)
		}
		want := map[string]int{testenv.ACRCatalog: 1, testenv.ACRRepository: 2}
		if diff := cmp.Diff(want, made); diff != "" {
			t.Errorf("requests per endpoint (-want +got):\n%s", diff)
		}
	})
	t.Run("after a push to one repository the sweep sends one list task", func(t *testing.T) {
		at := start.Add(90 * time.Minute).UTC()
		f.SetManifest("team/web", testenv.ACRManifest{Digest: digestOf("c"), CreatedTime: at, LastUpdateTime: at, Tags: []string{"2"}})
		repos, made := sweep(t, start.Add(2*time.Hour))
		if diff := cmp.Diff([]string{"team/web"}, repos); diff != "" {
			t.Errorf("list tasks (-want +got):\n%s", diff)
		}
		want := map[string]int{testenv.ACRCatalog: 1, testenv.ACRRepository: 2, testenv.ACRManifests: 1}
		if diff := cmp.Diff(want, made); diff != "" {
			t.Errorf("requests per endpoint (-want +got):\n%s", diff)
		}
	})
	t.Run("a delete, which moves only the repository's time, is seen too", func(t *testing.T) {
		f.Touch("team/api", start.Add(150*time.Minute).UTC())
		repos, _ := sweep(t, start.Add(3*time.Hour))
		if diff := cmp.Diff([]string{"team/api"}, repos); diff != "" {
			t.Errorf("list tasks (-want +got):\n%s", diff)
		}
	})
	t.Run("access tokens that expired since the last sweep are fetched again", func(t *testing.T) {
		asked := len(f.AskedScopes())
		f.ExpireAccessTokens()
		repos, made := sweep(t, start.Add(4*time.Hour))
		if len(repos) != 0 {
			t.Errorf("list tasks for %v, want none", repos)
		}
		if diff := cmp.Diff(map[string]int{testenv.ACRCatalog: 2, testenv.ACRRepository: 4}, made); diff != "" {
			t.Errorf("requests per endpoint, each 401 retried once (-want +got):\n%s", diff)
		}
		if got := len(f.AskedScopes()) - asked; got != 3 {
			t.Errorf("%d new access tokens, want 3 (catalog and two repositories)", got)
		}
	})
	t.Run("unchanged repositories are listed again once a day", func(t *testing.T) {
		repos, _ := sweep(t, start.Add(27*time.Hour))
		if diff := cmp.Diff([]string{"team/api", "team/web"}, repos); diff != "" {
			t.Errorf("list tasks (-want +got):\n%s", diff)
		}
	})
}

func TestACRListRepoRecordsPushAndImportTimes(t *testing.T) {
	f := testenv.StartACR(t, "")
	h := newACRHarness(t, f)
	now := h.clock.Now().UTC()
	pushed, imported, created, ancient := now.Add(-10*24*time.Hour), now.Add(-2*24*time.Hour), now.Add(-400*24*time.Hour), now.Add(-200*24*time.Hour)
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("a"), CreatedTime: pushed, LastUpdateTime: pushed, Tags: []string{"1"},
		Architecture: testenv.StringPtr("amd64"), OS: testenv.StringPtr("linux")})
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("b"), CreatedTime: created, LastUpdateTime: imported, Tags: []string{"imported"}})
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("d"), CreatedTime: ancient, LastUpdateTime: ancient, Tags: []string{"old"}})
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("c"), CreatedTime: pushed, LastUpdateTime: pushed, Tags: []string{"multi"},
		MediaType: "application/vnd.oci.image.index.v1+json", References: []testenv.ACRPlatformRef{
			{Digest: digestOf("e"), Architecture: "amd64", OS: "linux"}, {Digest: digestOf("f"), Architecture: "arm64", OS: "linux"}}})
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("e"), CreatedTime: pushed, LastUpdateTime: pushed})
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("f"), CreatedTime: pushed, LastUpdateTime: pushed})

	if status := h.tick(t); status != okStatus {
		t.Fatalf("sweep: HTTP %d", status)
	}
	tasks := h.takeListTasks(t)
	if len(tasks) != 1 {
		t.Fatalf("list tasks %v, want one", tasks)
	}
	if status := h.runList(t, tasks[0]); status != okStatus {
		t.Fatalf("listrepo: HTTP %d", status)
	}

	type activity struct {
		LastPushedAt       time.Time
		Source, PushSource string
		Platforms          string
		ClaimedToday       bool
	}
	rows, err := h.store.ListActivity(context.Background(), f.Host, "team/api")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]activity{}
	for _, a := range rows {
		got[a.Digest] = activity{a.LastPushedAt, a.Source, a.PushSource, a.Platforms, a.ScanClaimedOn != ""}
	}
	want := map[string]activity{
		digestOf("a"): {pushed, "acr", "acr", "", true},
		digestOf("b"): {imported, "acr", "acr", "", true}, // an import is a push
		digestOf("c"): {pushed, "acr", "acr", "linux/amd64 " + digestOf("e") + ", linux/arm64 " + digestOf("f"), true},
		digestOf("d"): {ancient, "acr", "acr", "", false}, // outside the push window: not scanned
		digestOf("e"): {pushed, "acr", "acr", "", false},  // children: scanned through their index
		digestOf("f"): {pushed, "acr", "acr", "", false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("activity (-want +got):\n%s", diff)
	}
	wantScans := queuedOf([]store.ScanTask{
		{Digest: digestOf("a"), Tags: []string{"1"}},
		{Digest: digestOf("b"), Tags: []string{"imported"}},
		{Digest: digestOf("c"), Tags: []string{"multi"}},
	})
	if diff := cmp.Diff(wantScans, queuedOf(h.scanTasks(t))); diff != "" {
		t.Errorf("scan tasks (-want +got):\n%s", diff)
	}
	if n := f.Count(testenv.ACRV2); n != 0 {
		t.Errorf("%d /v2/ manifest or tag requests, want none (the _manifests listing has it all)", n)
	}

	t.Run("listing again with nothing changed writes no activity row", func(t *testing.T) {
		before, err := h.store.ListActivity(context.Background(), f.Host, "team/api")
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Set(now.Add(25 * time.Hour))
		if status := h.runList(t, tasks[0]); status != okStatus {
			t.Fatalf("listrepo: HTTP %d", status)
		}
		after, err := h.store.ListActivity(context.Background(), f.Host, "team/api")
		if err != nil {
			t.Fatal(err)
		}
		pushTimes := func(as []store.Activity) map[string]time.Time {
			m := map[string]time.Time{}
			for _, a := range as {
				m[a.Digest] = a.LastPushedAt
			}
			return m
		}
		if diff := cmp.Diff(pushTimes(before), pushTimes(after)); diff != "" {
			t.Errorf("push times moved (-before +after):\n%s", diff)
		}
	})
}

func TestACRBadAnswersAreClassifiedAndLoseNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint string
		fault    testenv.ACRFault
		function string
		want     int
	}{
		{"a manifest listing answering 403 is a permanent failure, recorded and completed",
			testenv.ACRManifests, testenv.ACRFault{Status: http.StatusForbidden, Code: "DENIED"}, pipeline.FuncListRepo, okStatus},
		{"a manifest listing answering 404 is a permanent failure",
			testenv.ACRManifests, testenv.ACRFault{Status: http.StatusNotFound, Code: "NAME_UNKNOWN"}, pipeline.FuncListRepo, okStatus},
		{"a throttled manifest listing goes back to the queue",
			testenv.ACRManifests, testenv.ACRFault{Status: http.StatusTooManyRequests, Code: "TOOMANYREQUESTS", RetryAfter: "1"}, pipeline.FuncListRepo, http.StatusInternalServerError},
		{"a manifest listing with a digest that is not a digest goes back to the queue",
			testenv.ACRManifests, testenv.ACRFault{Status: 200, Body: `{"manifests":[{"digest":"sha256:nope","createdTime":"2025-01-01T00:00:00Z","lastUpdateTime":"2025-01-01T00:00:00Z","tags":["1"]}]}`}, pipeline.FuncListRepo, http.StatusInternalServerError},
		{"a catalog answering 403 fails the sweep",
			testenv.ACRCatalog, testenv.ACRFault{Status: http.StatusForbidden, Code: "DENIED"}, pipeline.FuncSweep, http.StatusInternalServerError},
		{"a throttled repository read still sends the list task",
			testenv.ACRRepository, testenv.ACRFault{Status: http.StatusTooManyRequests, Code: "TOOMANYREQUESTS"}, pipeline.FuncSweep, okStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testenv.StartACR(t, "")
			h := newACRHarness(t, f)
			at := h.clock.Now().Add(-time.Hour).UTC()
			f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("a"), CreatedTime: at, LastUpdateTime: at, Tags: []string{"1"}})
			f.Fail(tc.endpoint, tc.fault)
			var status int
			if tc.function == pipeline.FuncSweep {
				status = h.tick(t)
			} else {
				status = h.runList(t, store.ListTask{Registry: f.Host, Repository: "team/api", RunID: "test-run",
					Window: store.Window{PushDays: 90, PullDays: 30}, RepositoryUpdatedAt: at})
			}
			if status != tc.want {
				t.Fatalf("%s: HTTP %d, want %d", tc.function, status, tc.want)
			}
			if tc.function == pipeline.FuncSweep {
				tasks := h.takeListTasks(t)
				if wantTasks := tc.want == okStatus; (len(tasks) == 1) != wantTasks {
					t.Errorf("list tasks %v, want one: %v", tasks, wantTasks)
				}
				return
			}
			if tasks := h.scanTasks(t); len(tasks) != 0 {
				t.Errorf("a failed listing enqueued %v", tasks)
			}
			if _, err := h.store.GetRepositoryActivity(context.Background(), f.Host, "team/api"); err == nil {
				t.Error("a failed listing recorded the repository as listed: the next sweep would skip it")
			}
			run, err := h.store.GetRun(context.Background(), runDate(h.clock.Now()), "test-run")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == okStatus && (run.Failed != 1 || !strings.Contains(run.Failures, "team/api")) {
				t.Errorf("run Failed=%d Failures=%q, want the permanent failure recorded", run.Failed, run.Failures)
			}
		})
	}
}

// TestACRListRepoIsIdempotentUnderStorageFaults lists an ACR repository where tag 1
// moved and tag 2 is an import since the last listing, and tag old left the push
// window, with a storage failure injected at each of the listing's storage calls in
// turn.
func TestACRListRepoIsIdempotentUnderStorageFaults(t *testing.T) {
	f := testenv.StartACR(t, "")
	start := startOfTest(t)
	week, hour := start.Add(-7*24*time.Hour).UTC(), start.Add(-time.Hour).UTC()
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("a"), CreatedTime: week, LastUpdateTime: week})
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("b"), CreatedTime: hour, LastUpdateTime: hour, Tags: []string{"1"}})
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("c"), CreatedTime: week.Add(-300 * 24 * time.Hour), LastUpdateTime: hour, Tags: []string{"2"}})
	old := start.Add(-200 * 24 * time.Hour).UTC()
	f.SetManifest("team/api", testenv.ACRManifest{Digest: digestOf("d"), CreatedTime: old, LastUpdateTime: old, Tags: []string{"old"}})
	faultEveryCall(t, f.Host, pipeline.FuncListRepo, "team/api", func(t *testing.T, h *harness) []byte {
		// What an earlier listing saw: tag 1 at a, pushed a week ago.
		ctx := context.Background()
		if err := h.store.PutTags(ctx, f.Host, "team/api", []store.Tag{{Registry: f.Host, Repository: "team/api", Name: "1", Digest: digestOf("a"), ChangedAt: week}}); err != nil {
			t.Fatal(err)
		}
		if err := h.store.RecordActivity(ctx, store.Activity{Registry: f.Host, Repository: "team/api", Digest: digestOf("a"), LastPushedAt: week, Source: "acr", PushSource: "acr"}, 0); err != nil {
			t.Fatal(err)
		}
		text, err := store.EncodeListTask(store.ListTask{Registry: f.Host, Repository: "team/api", RunID: "test-run",
			Window: store.Window{PushDays: 90, PullDays: 30}, RepositoryUpdatedAt: hour})
		if err != nil {
			t.Fatal(err)
		}
		return text
	}, withACR(acrCredential{f.AADToken}))
}

func TestACRSweepOfAnUnchangedRegistryReadsWhatTheListingsSawWithOneQuery(t *testing.T) {
	f := testenv.StartACR(t, "")
	counter := store.NewTransactionCounter()
	h := newACRHarness(t, f, withStoreOptions(store.WithTransactionCounter(counter)))
	start := h.clock.Now()
	pushed := start.Add(-time.Hour).UTC()
	const repositories = 40
	for i := range repositories {
		f.SetManifest(fmt.Sprintf("team/app-%02d", i), testenv.ACRManifest{Digest: digestOf("a"), CreatedTime: pushed, LastUpdateTime: pushed, Tags: []string{"1"}})
	}
	if status := h.tick(t); status != okStatus {
		t.Fatalf("first sweep: HTTP %d", status)
	}
	tasks := h.takeListTasks(t)
	listed := 0
	for _, task := range tasks {
		listed += len(task.Each()) // list tasks carry several repositories past 32
	}
	if listed != repositories {
		t.Fatalf("first sweep's %d list tasks carry %d repositories, want %d", len(tasks), listed, repositories)
	}
	for _, task := range tasks {
		if status := h.runList(t, task); status != okStatus {
			t.Fatalf("listrepo %s: HTTP %d", task.Repository, status)
		}
	}

	// activityReads counts the requests to the activity table so far, by method.
	activityReads := func() map[string]int64 {
		out := map[string]int64{}
		for k, n := range counter.Counts() {
			if k.Service == store.ServiceTable && strings.HasPrefix(k.Resource, store.TableActivity) {
				out[k.Method] += n
			}
		}
		return out
	}
	before := activityReads()
	h.clock.Set(start.Add(10 * time.Minute))
	if status := h.tick(t); status != okStatus {
		t.Fatalf("second sweep: HTTP %d", status)
	}
	if got := h.takeListTasks(t); len(got) != 0 {
		t.Errorf("the second sweep minutes later sent %d list tasks, want none", len(got))
	}
	after := activityReads()
	made := map[string]int64{}
	for method, n := range after {
		if n > before[method] {
			made[method] = n - before[method]
		}
	}
	if diff := cmp.Diff(map[string]int64{http.MethodGet: 1}, made); diff != "" {
		t.Errorf("activity table requests of a sweep of %d unchanged repositories (-want +got):\n%s", repositories, diff)
	}
}
