package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// otherRepo is a repository first seen by the listing: tags v1 → A and v2 → C.
const otherRepo = "other/app"

// twoRepositories is seededRepository plus otherRepo, new to the store.
func twoRepositories() (*memStore, fakeRegistry) {
	m, reg := seededRepository()
	reg.repos[otherRepo] = map[string]string{"v1": digestA, "v2": digestC}
	return m, reg
}

func batchTaskText(t *testing.T, repos ...string) []byte {
	t.Helper()
	task := store.ListTask{Registry: testRegistry, RunID: "run-1", Window: store.Window{PushDays: 7, PullDays: 30}}
	for _, r := range repos {
		task.Repositories = append(task.Repositories, store.ListRepository{Name: r})
	}
	text, err := store.EncodeListTask(task)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func listBatchOnce(t *testing.T, m *memStore, reg registryClient, delivery int) error {
	t.Helper()
	p := unitPipeline(t, m, fakeRegistry{})
	p.registries[testRegistry] = reg
	return p.ListRepo(context.Background(), queueInvocation(t, FuncListRepo, batchTaskText(t, testRepo, otherRepo), "msg-1", delivery), discardLog())
}

func TestAListTaskOfSeveralRepositoriesLeavesWhatOneTaskPerRepositoryLeaves(t *testing.T) {
	single, reg := twoRepositories()
	p := unitPipeline(t, single, reg)
	for _, repo := range []string{testRepo, otherRepo} {
		text, err := store.EncodeListTask(store.ListTask{Registry: testRegistry, Repository: repo, RunID: "run-1", Window: store.Window{PushDays: 7, PullDays: 30}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ListRepo(context.Background(), queueInvocation(t, FuncListRepo, text, "msg-1", 1), discardLog()); err != nil {
			t.Fatalf("listing %s alone: %v", repo, err)
		}
	}
	batched, reg := twoRepositories()
	if err := listBatchOnce(t, batched, reg, 1); err != nil {
		t.Fatalf("listing both in one task: %v", err)
	}

	want, got := stateOf(t, single), stateOf(t, batched)
	want.Runs, got.Runs = nil, nil // one row per message: compared below
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after one task of both differs from one task each (-each +both):\n%s", diff)
	}
	// team/app: B and C new; other/app: A and C new there (activity is per repository).
	wantRun := store.RunDelta{Manifests: 4, Enqueued: 4, Deliveries: 1, StartedAt: testNow, FinishedAt: testNow}
	if diff := cmp.Diff(map[string]store.RunDelta{key(runDate(testNow), "run-1", "msg-1"): wantRun}, batched.runs); diff != "" {
		t.Errorf("run rows of the batched task (-want +got):\n%s", diff)
	}
	if len(got.Scans) != 4 {
		t.Errorf("%d distinct scan tasks, want 4 (B, C of %s; A, C of %s)", len(got.Scans), testRepo, otherRepo)
	}
}

func TestAListTaskOfSeveralRepositoriesSendsTheirDueDigestsTogether(t *testing.T) {
	m, reg := twoRepositories()
	if err := listBatchOnce(t, m, reg, 1); err != nil {
		t.Fatalf("listing both in one task: %v", err)
	}
	msgs := m.sent["scan-tasks"]
	if len(msgs) != 1 {
		t.Fatalf("%d scan tasks sent, want one carrying the due digests of both repositories", len(msgs))
	}
	task, err := store.DecodeScanTask([]byte(msgs[0].Text))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, one := range task.Each() {
		got[one.Repository+"@"+shortDigests(one.Digest)] = true
	}
	want := map[string]bool{}
	for _, rd := range [][2]string{{testRepo, digestB}, {testRepo, digestC}, {otherRepo, digestA}, {otherRepo, digestC}} {
		want[rd[0]+"@"+shortDigests(rd[1])] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digests of the scan task, by repository (-want +got):\n%s", diff)
	}
	// Every digest is new to its repository: its claim is written with its push,
	// before the one send (claimed ahead).
	calls := m.callsMatching("")
	send := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "Send scan-tasks") })
	for _, d := range []string{digestA, digestB, digestC} {
		claim := slices.IndexFunc(calls, func(c string) bool {
			f := strings.Fields(c)
			return f[0] == "PutActivities" && slices.Contains(f, "claim:"+d) && slices.Contains(f, "push:"+d)
		})
		if claim < 0 || claim > send {
			t.Errorf("the claim of %s (call %d) is not in a push write before the scan task's send (call %d): %q", shortDigests(d), claim, send, calls)
		}
	}
}

func TestAListTaskOfSeveralRepositoriesIsIdempotentUnderAFailureAtEachWrite(t *testing.T) {
	clean, reg := twoRepositories()
	if err := listBatchOnce(t, clean, reg, 1); err != nil {
		t.Fatalf("failure-free listing: %v", err)
	}
	want := stateOf(t, clean)
	writes := clean.writes
	if writes < 7 { // per repository its activity and tag rows; SetImageTags, the send, the run row
		t.Fatalf("the failure-free listing made %d writes: too few to be the two repositories' (%q)", writes, clean.calls)
	}
	for _, mode := range []struct {
		name string
		mode failMode
	}{{"not applied", failBefore}, {"applied with the answer lost", failAnswered}} {
		for n := 1; n <= writes; n++ {
			t.Run(fmt.Sprintf("a failure of write %d, %s, is repaired by the redelivery", n, mode.name), func(t *testing.T) {
				m, reg := twoRepositories()
				m.failAt, m.mode = n, mode.mode
				if got := outcomeOf(listBatchOnce(t, m, reg, 1)); got != "transient" {
					t.Fatalf("first delivery's outcome = %s, want transient so the host redelivers", got)
				}
				m.failAt = 0
				if err := listBatchOnce(t, m, reg, 2); err != nil {
					t.Fatalf("redelivery: %v", err)
				}
				if diff := cmp.Diff(want, stateOf(t, m)); diff != "" {
					t.Errorf("state after redelivery differs from a failure-free run (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// failingTags is a registry whose tags listing of one repository fails with err.
type failingTags struct {
	fakeRegistry
	repo string
	err  error
}

func (r failingTags) Tags(ctx context.Context, repo string) ([]string, error) {
	if repo == r.repo {
		return nil, r.err
	}
	return r.fakeRegistry.Tags(ctx, repo)
}

func TestOneRepositoryFailingInAListTaskOfSeveral(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantOutcome string
	}{
		{name: "a permanent failure is recorded and the other repository's work kept",
			err: &registry.Error{Op: "listing tags", Ref: otherRepo, Status: 404, Err: errors.New("name unknown")}, wantOutcome: "permanent"},
		{name: "a transient failure sends the whole task back to the host",
			err: &registry.Error{Op: "listing tags", Ref: otherRepo, Status: 503, Err: errors.New("unavailable")}, wantOutcome: "transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := twoRepositories()
			err := listBatchOnce(t, m, failingTags{reg, otherRepo, tt.err}, 1)
			if got := outcomeOf(err); got != tt.wantOutcome {
				t.Fatalf("outcome = %s (%v), want %s", got, err, tt.wantOutcome)
			}
			if err == nil || !strings.Contains(err.Error(), otherRepo) {
				t.Errorf("error %v does not name the repository that failed", err)
			}
			tags, _ := m.ListTags(context.Background(), testRegistry, testRepo)
			if len(tags) != 2 {
				t.Errorf("%s has %d tag rows, want 2: the repository that did not fail is listed", testRepo, len(tags))
			}
			run := m.runs[key(runDate(testNow), "run-1", "msg-1")]
			if run.Manifests != 2 || run.Enqueued != 2 || !strings.Contains(run.Failure, otherRepo) {
				t.Errorf("run row %+v: want %s's 2 manifests and 2 scans counted and the failure of %s", run, testRepo, otherRepo)
			}
		})
	}
}

func TestARacingActivityWriterIsMergedNotOverwritten(t *testing.T) {
	pulled := testNow.Add(-time.Hour)
	racingPull := func(m *memStore) func() {
		return func() {
			m.activity[key(testRegistry, testRepo, digestB)] = store.Activity{Registry: testRegistry, Repository: testRepo, Digest: digestB,
				LastPulledAt: pulled, PullCount: 1, Source: "eventgrid"}
		}
	}
	otherClaimsC := func(m *memStore) func() {
		return func() {
			a := m.activity[key(testRegistry, testRepo, digestC)]
			a.Registry, a.Repository, a.Digest = testRegistry, testRepo, digestC
			a.LastPushedAt, a.Source = testNow.Add(-time.Minute), "eventgrid"
			a.ScanClaimedOn, a.ScanClaimedBy = testNow.Format(time.DateOnly), "msg-other"
			m.activity[key(testRegistry, testRepo, digestC)] = a
		}
	}
	t.Run("a pull recorded while the pushes are written keeps its pull and gets the push", func(t *testing.T) {
		m, reg := seededRepository()
		m.activityRaces = []func(){racingPull(m)}
		if err := listOnce(t, m, reg, 1); err != nil {
			t.Fatal(err)
		}
		got := m.activity[key(testRegistry, testRepo, digestB)]
		if !got.LastPushedAt.Equal(testNow) || !got.LastPulledAt.Equal(pulled) || got.PullCount != 1 {
			t.Errorf("B's row %+v: want the push observed now and the racing pull (1 at %s)", got, pulled)
		}
		if got.ScanClaimedBy != "msg-1" {
			t.Errorf("B claimed by %q, want msg-1", got.ScanClaimedBy)
		}
	})
	t.Run("a digest another lister claimed meanwhile is not claimed again nor counted", func(t *testing.T) {
		m, reg := seededRepository()
		m.activityRaces = []func(){otherClaimsC(m)} // the push batch, which claims ahead
		if err := listOnce(t, m, reg, 1); err != nil {
			t.Fatal(err)
		}
		if got := m.activity[key(testRegistry, testRepo, digestC)].ScanClaimedBy; got != "msg-other" {
			t.Errorf("C claimed by %q, want the other lister's claim kept", got)
		}
		if got := m.activity[key(testRegistry, testRepo, digestB)].ScanClaimedBy; got != "msg-1" {
			t.Errorf("B claimed by %q, want msg-1", got)
		}
		if run := m.runs[key(runDate(testNow), "run-1", "msg-1")]; run.Enqueued != 1 {
			t.Errorf("Enqueued = %d, want 1 (B; C is the other lister's)", run.Enqueued)
		}
	})
}

func TestANewRepositoryIsListedWithoutReadingItsTagsOrImages(t *testing.T) {
	text := func(repo string) []byte {
		b, err := store.EncodeListTask(store.ListTask{Registry: testRegistry, Repository: repo, RunID: "run-1", Window: store.Window{PushDays: 7, PullDays: 30}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	list := func(m *memStore, reg fakeRegistry, repo string) {
		t.Helper()
		p := unitPipeline(t, m, reg)
		if err := p.ListRepo(context.Background(), queueInvocation(t, FuncListRepo, text(repo), "msg-1", 1), discardLog()); err != nil {
			t.Fatalf("listing %s: %v", repo, err)
		}
	}
	reads := func(m *memStore, prefix string) int {
		return len(slices.DeleteFunc(slices.Clone(m.reads), func(r string) bool { return !strings.HasPrefix(r, prefix) }))
	}
	t.Run("a repository without activity rows", func(t *testing.T) {
		m, reg := twoRepositories()
		list(m, reg, otherRepo)
		if n := reads(m, "ListTags") + reads(m, "ListImages"); n != 0 {
			t.Errorf("%d tag or image reads (%q), want none", n, m.reads)
		}
		if n := len(m.sentScans(t)); n != 2 {
			t.Errorf("%d scans sent, want 2 (A and C)", n)
		}
		// The claims are written over the versions the push write answered.
		if n := reads(m, "ListActivityRows"); n != 1 {
			t.Errorf("%d activity reads (%q), want one", n, m.reads)
		}
	})
	t.Run("a repository with activity rows", func(t *testing.T) {
		m, reg := twoRepositories()
		list(m, reg, testRepo)
		if reads(m, "ListTags "+testRepo) != 1 || reads(m, "ListImages "+testRepo) != 1 {
			t.Errorf("reads %q, want its tags and images read once each", m.reads)
		}
	})
	t.Run("tag rows without activity rows are found by the conflicting tag write", func(t *testing.T) {
		m, reg := twoRepositories()
		m.tags[key(testRegistry, otherRepo, "v1")] = store.Tag{Registry: testRegistry, Repository: otherRepo, Name: "v1",
			Digest: digestB, ChangedAt: testNow.AddDate(0, 0, -1)}
		list(m, reg, otherRepo)
		tags, _ := m.ListTags(context.Background(), testRegistry, otherRepo)
		got := map[string]string{}
		for _, tag := range tags {
			got[tag.Name] = tag.Digest
		}
		if diff := cmp.Diff(map[string]string{"v1": digestA, "v2": digestC}, got); diff != "" {
			t.Errorf("tags after the listing (-want +got):\n%s", diff)
		}
		v1 := m.tags[key(testRegistry, otherRepo, "v1")]
		if len(v1.History) != 1 || v1.History[0].Digest != digestB {
			t.Errorf("v1 history %+v, want its move from B kept", v1.History)
		}
	})
}

func TestListTaskSize(t *testing.T) {
	tests := []struct{ repositories, want int }{
		{0, 1}, {1, 1}, {32, 1}, {33, 2}, {1000, 32}, {1600, 50}, {10000, 50},
	}
	for _, tt := range tests {
		if got := listTaskSize(tt.repositories); got != tt.want {
			t.Errorf("listTaskSize(%d) = %d, want %d", tt.repositories, got, tt.want)
		}
	}
}

func TestTheSweepPutsEveryRepositoryInExactlyOneListTask(t *testing.T) {
	m := newMemStore()
	reg := fakeRegistry{repos: map[string]map[string]string{}}
	var want []string
	for i := range 100 {
		name := fmt.Sprintf("repo-%03d", i)
		reg.repos[name] = map[string]string{}
		want = append(want, name)
	}
	p := unitPipeline(t, m, reg)
	if err := p.Sweep(context.Background(), &host.Invocation{Function: FuncSweep, InvocationID: "tick-1"}, discardLog()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, msg := range m.sent["list-tasks"] {
		task, err := store.DecodeListTask([]byte(msg.Text))
		if err != nil {
			t.Fatalf("undecodable list task %q: %v", msg.Text, err)
		}
		if n := len(task.Each()); n != 4 { // ceil(100 / 32)
			t.Errorf("a list task of %d repositories, want 4", n)
		}
		for _, one := range task.Each() {
			got = append(got, one.Repository)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("repositories listed (-want +got):\n%s", diff)
	}
	if d := m.runs[key(runDate(testNow), "20260310T060000Z", sweepInvocation)]; d.Repositories != 100 {
		t.Errorf("the tick counted %d repositories, want 100", d.Repositories)
	}
}

// listMarked delivers a list task of repo marked new (or not) as message msg-1.
func listMarked(t *testing.T, m *memStore, reg fakeRegistry, repo string, markedNew bool) {
	t.Helper()
	text, err := store.EncodeListTask(store.ListTask{Registry: testRegistry, Repository: repo, RepositoryNew: markedNew, RunID: "run-1",
		Window: store.Window{PushDays: 7, PullDays: 30}})
	if err != nil {
		t.Fatal(err)
	}
	p := unitPipeline(t, m, reg)
	if err := p.ListRepo(context.Background(), queueInvocation(t, FuncListRepo, text, "msg-1", 1), discardLog()); err != nil {
		t.Fatalf("listing %s (marked new %v): %v", repo, markedNew, err)
	}
}

func TestARepositoryMarkedNewIsListedWithoutReadingItsActivity(t *testing.T) {
	reads := func(m *memStore, prefix string) int {
		return len(slices.DeleteFunc(slices.Clone(m.reads), func(r string) bool { return !strings.HasPrefix(r, prefix) }))
	}
	t.Run("a repository that is new is listed with no read at all, and as one that is not marked", func(t *testing.T) {
		marked, reg := twoRepositories()
		listMarked(t, marked, reg, otherRepo, true)
		if len(marked.reads) != 0 {
			t.Errorf("reads %q, want none", marked.reads)
		}
		unmarked, reg := twoRepositories()
		listMarked(t, unmarked, reg, otherRepo, false)
		if diff := cmp.Diff(stateOf(t, unmarked), stateOf(t, marked)); diff != "" {
			t.Errorf("state after listing it marked new (-unmarked +marked):\n%s", diff)
		}
	})
	// The sweep's read can be overtaken: an event or a pull writes a row after it.
	t.Run("a repository marked new whose listed digest has a row by then is listed as a known one", func(t *testing.T) {
		seed := func() (*memStore, fakeRegistry) {
			m, reg := twoRepositories()
			m.activity[key(testRegistry, otherRepo, digestC)] = store.Activity{Registry: testRegistry, Repository: otherRepo, Digest: digestC,
				LastPulledAt: testNow.Add(-time.Hour), PullCount: 3, Source: "loganalytics", PullSource: "loganalytics"}
			// Scanned an hour ago (a pull's scan): not due again today.
			m.images[key(testRegistry, otherRepo, digestC)] = store.Image{Registry: testRegistry, Repository: otherRepo, Digest: digestC,
				Status: "scanned", LastScannedAt: testNow.Add(-time.Hour), Generation: "g1"}
			return m, reg
		}
		marked, reg := seed()
		listMarked(t, marked, reg, otherRepo, true)
		if n := reads(marked, "ListActivityRows "+otherRepo); n != 1 {
			t.Errorf("%d activity reads (%q), want the one after the conflicting insert", n, marked.reads)
		}
		got := marked.activity[key(testRegistry, otherRepo, digestC)]
		if got.PullCount != 3 || !got.LastPushedAt.Equal(testNow) || got.ScanClaimedBy != "" {
			t.Errorf("C's row %+v: want its pulls kept, the push observed now and no claim (it is not due)", got)
		}
		for _, scan := range marked.sentScans(t) {
			if strings.Contains(scan, digestC) {
				t.Errorf("C, scanned an hour ago, was sent again: %s", scan)
			}
		}
		unmarked, reg := seed()
		listMarked(t, unmarked, reg, otherRepo, false)
		if diff := cmp.Diff(stateOf(t, unmarked), stateOf(t, marked)); diff != "" {
			t.Errorf("state after listing it marked new (-unmarked +marked):\n%s", diff)
		}
	})
	t.Run("a repository with tag rows marked new is reconciled against them", func(t *testing.T) {
		marked, reg := seededRepository()
		listMarked(t, marked, reg, testRepo, true)
		unmarked, reg := seededRepository()
		listMarked(t, unmarked, reg, testRepo, false)
		if diff := cmp.Diff(stateOf(t, unmarked), stateOf(t, marked)); diff != "" {
			t.Errorf("state after listing it marked new (-unmarked +marked):\n%s", diff)
		}
	})
}
