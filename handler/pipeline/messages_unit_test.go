package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/store"
)

func TestBadMessagesAreRejectedWithoutImagesRows(t *testing.T) {
	scan := func(repository, digest string) string {
		return `{"v":1,"registry":"` + testRegistry + `","repository":"` + repository + `","digest":"` + digest + `","reason":"push","runId":"run-1"}`
	}
	tests := []struct {
		name     string
		function string
		text     string
	}{
		{name: "a scan task with an md5 digest is rejected", function: FuncScan, text: scan(testRepo, "md5:"+strings.Repeat("a", 32))},
		{name: "a scan task with a truncated sha256 digest is rejected", function: FuncScan, text: scan(testRepo, "sha256:abc")},
		{name: "a scan task with a control character in its repository is rejected", function: FuncScan, text: scan(`team/app\u0007`, digestA)},
		{name: "a scan task with an upper-case repository is rejected", function: FuncScan, text: scan("Team/App", digestA)},
		{name: "a scan task that is not JSON is rejected", function: FuncScan, text: `scan team/app please`},
		{name: "a scan task for a registry that is not configured is rejected", function: FuncScan,
			text: `{"v":1,"registry":"elsewhere.test","repository":"team/app","digest":"` + digestA + `","reason":"push","runId":"run-1"}`},
		{name: "a list task without a repository is rejected", function: FuncListRepo,
			text: `{"v":1,"registry":"` + testRegistry + `","runId":"run-1","window":{"pushDays":7,"pullDays":30}}`},
		{name: "a list task with a repository that names another registry and port is rejected", function: FuncListRepo,
			text: `{"v":1,"registry":"` + testRegistry + `","repository":"evil.test:443/app","runId":"run-1","window":{"pushDays":7,"pullDays":30}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			p := unitPipeline(t, m, fakeRegistry{repos: map[string]map[string]string{testRepo: {"1": digestA}}})
			fn := p.Functions()[tt.function]

			err := fn(context.Background(), queueInvocation(t, tt.function, []byte(tt.text), "msg-1", 1), discardLog())

			if !host.IsPermanent(err) {
				t.Fatalf("outcome = %v, want permanent (the message is completed)", err)
			}
			if len(m.images) != 0 || len(m.activity) != 0 || len(m.tags) != 0 || len(m.sent) != 0 {
				t.Errorf("a rejected message wrote images %v, activity %v, tags %v, queues %v; want nothing but its run row",
					m.images, m.activity, m.tags, m.sent)
			}
			row, ok := m.runs[key(runDate(testNow), rejectedRun, "msg-1")]
			if !ok {
				t.Fatalf("no run row for the rejected message; rows: %v", m.runs)
			}
			if row.Failed != 1 || !strings.Contains(row.Failure, "rejecting message") {
				t.Errorf("run row = %+v, want one failure naming the rejected message", row)
			}
		})
	}
}

func TestARejectedMessageThatCannotBeRecordedIsLeftToTheHost(t *testing.T) {
	m := newMemStore()
	m.failAt = 1 // the run row
	p := unitPipeline(t, m, fakeRegistry{})

	err := p.Scan(context.Background(), queueInvocation(t, FuncScan, []byte("not json"), "msg-1", 1), discardLog())

	if got := outcomeOf(err); got != "transient" {
		t.Errorf("outcome = %s (%v), want transient: the message must stay until it is recorded", got, err)
	}
}

func TestSweepEnqueuesAListTaskPerRepositoryAndRecordsItsTick(t *testing.T) {
	tests := []struct {
		name      string
		registry  fakeRegistry
		wantTasks []store.ListTask
		wantRun   store.RunDelta
		wantErr   bool
	}{
		{name: "every repository of the registry gets a list task with the configured window, marked new when it has no activity",
			registry: fakeRegistry{repos: map[string]map[string]string{"a": {}, "b/c": {}}},
			wantTasks: []store.ListTask{
				{V: 1, Registry: testRegistry, Repository: "a", RunID: "20260310T060000Z", Window: store.Window{PushDays: 7, PullDays: 30}, RepositoryNew: true},
				{V: 1, Registry: testRegistry, Repository: "b/c", RunID: "20260310T060000Z", Window: store.Window{PushDays: 7, PullDays: 30}, RepositoryNew: true},
			},
			wantRun: store.RunDelta{Repositories: 2, StartedAt: testNow, FinishedAt: testNow}},
		{name: "a registry that cannot be listed fails the tick and is recorded",
			registry: fakeRegistry{errs: map[string]error{"Repositories": errors.New("catalog unavailable")}},
			wantRun: store.RunDelta{Failed: 1, Failure: "listing repositories of " + testRegistry + ": catalog unavailable",
				StartedAt: testNow, FinishedAt: testNow},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			p := unitPipeline(t, m, tt.registry)
			inv := &host.Invocation{Function: FuncSweep, InvocationID: "tick-1"}

			err := p.Sweep(context.Background(), inv, discardLog())

			if (err != nil) != tt.wantErr {
				t.Fatalf("Sweep error = %v, want error %v", err, tt.wantErr)
			}
			var got []store.ListTask
			for _, msg := range m.sent["list-tasks"] {
				task, err := store.DecodeListTask([]byte(msg.Text))
				if err != nil {
					t.Fatalf("sweep sent an undecodable list task %q: %v", msg.Text, err)
				}
				got = append(got, task)
			}
			// The sends go out concurrently: their order is not part of the contract.
			slices.SortFunc(got, func(a, b store.ListTask) int { return strings.Compare(a.Repository, b.Repository) })
			if diff := cmp.Diff(tt.wantTasks, got); diff != "" {
				t.Errorf("list tasks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]store.RunDelta{key(runDate(testNow), "20260310T060000Z", sweepInvocation): tt.wantRun}, m.runs); diff != "" {
				t.Errorf("runs rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnAdvisoryOutageKeepsTheGoodRowAndLeavesTheTaskToTheHost(t *testing.T) {
	m := newMemStore()
	good := store.Image{Registry: testRegistry, Repository: testRepo, Digest: digestA, Status: "scanned",
		LastScannedAt: testNow.Add(-25 * time.Hour), Generation: "gen-1", Counts: store.Counts{Critical: 1, High: 2}}
	m.images[key(testRegistry, testRepo, digestA)] = good
	p := unitPipeline(t, m, fakeRegistry{})
	p.cfg.AdvisoriesURL, p.cfg.Ecosystems = t.TempDir(), []string{"Debian"} // no advisories there
	text, err := store.EncodeScanTask(store.ScanTask{Registry: testRegistry, Repository: testRepo, Digest: digestA,
		Reason: store.ReasonRescan, RunID: "run-1"})
	if err != nil {
		t.Fatal(err)
	}

	err = p.Scan(context.Background(), queueInvocation(t, FuncScan, text, "msg-1", 1), discardLog())

	if got := outcomeOf(err); got != "transient" {
		t.Errorf("outcome = %s (%v), want transient: the task waits for advisories", got, err)
	}
	row := m.images[key(testRegistry, testRepo, digestA)]
	if diff := cmp.Diff(good, row, cmpopts.IgnoreFields(store.Image{}, "LastError", "LastErrorAt")); diff != "" {
		t.Errorf("the good row changed beyond its error columns (-want +got):\n%s", diff)
	}
	if row.LastError == "" || !row.LastErrorAt.Equal(testNow) {
		t.Errorf("LastError %q at %v, want the outage recorded at %v", row.LastError, row.LastErrorAt, testNow)
	}
	run := m.runs[key(runDate(testNow), "run-1", "msg-1")]
	if run.Retried != 1 || run.Scanned != 0 || run.Failed != 0 {
		t.Errorf("run row = %+v, want one retry and no scan or failure", run)
	}
}
