package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/store"
)

// seededRepository is a repository whose tag "old" pointed at A (scanned two hours
// ago, one active finding) and whose registry now lists old → B and new → C.
func seededRepository() (*memStore, fakeRegistry) {
	m := newMemStore()
	m.tags[key(testRegistry, testRepo, "old")] = store.Tag{Registry: testRegistry, Repository: testRepo, Name: "old",
		Digest: digestA, ChangedAt: testNow.AddDate(0, 0, -3)}
	m.images[key(testRegistry, testRepo, digestA)] = store.Image{Registry: testRegistry, Repository: testRepo, Digest: digestA,
		Tags: []string{"old"}, Status: "scanned", LastScannedAt: testNow.Add(-2 * time.Hour), Counts: store.Counts{High: 1}}
	m.findings[key(testRegistry, testRepo, digestA, "CVE-1")] = store.Finding{Registry: testRegistry, Repository: testRepo,
		Digest: digestA, VulnerabilityID: "CVE-1", Package: "openssl", Ecosystem: "Debian:12", Severity: "HIGH",
		State: "active", FirstSeenAt: testNow.AddDate(0, 0, -3), LastSeenAt: testNow.Add(-2 * time.Hour)}
	m.activity[key(testRegistry, testRepo, digestA)] = store.Activity{Registry: testRegistry, Repository: testRepo, Digest: digestA,
		LastPushedAt: testNow.AddDate(0, 0, -3), Source: "tags", ScanClaimedOn: testNow.AddDate(0, 0, -3).Format(time.DateOnly)}
	reg := fakeRegistry{repos: map[string]map[string]string{testRepo: {"old": digestB, "new": digestC}}}
	return m, reg
}

func listTaskText(t *testing.T) []byte {
	t.Helper()
	text, err := store.EncodeListTask(store.ListTask{Registry: testRegistry, Repository: testRepo, RunID: "run-1",
		Window: store.Window{PushDays: 7, PullDays: 30}})
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// listOnce delivers the list task (message msg-1) for the delivery-th time.
func listOnce(t *testing.T, m *memStore, reg fakeRegistry, delivery int) error {
	t.Helper()
	p := unitPipeline(t, m, reg)
	return p.ListRepo(context.Background(), queueInvocation(t, FuncListRepo, listTaskText(t), "msg-1", delivery), discardLog())
}

func TestListRepoWritesInAnOrderARetryCanRepeat(t *testing.T) {
	m, reg := seededRepository()
	if err := listOnce(t, m, reg, 1); err != nil {
		t.Fatalf("listing: %v", err)
	}
	calls := m.callsMatching("")
	// at finds the first write that is call or, for an activity batch, that does it
	// ("push:"+digest and "claim:"+digest among the rows of a PutActivities).
	at := func(call string) int {
		i := slices.IndexFunc(calls, func(c string) bool {
			// A batch scan task's send names each of its digests.
			batched := strings.HasPrefix(c, "Send scan-tasks ") && strings.HasPrefix(call, "Send scan-tasks ")
			return c == call || strings.HasPrefix(c, "PutActivities ") && slices.Contains(strings.Fields(c), call) ||
				batched && slices.Contains(strings.Fields(c), strings.TrimPrefix(call, "Send scan-tasks "))
		})
		if i < 0 {
			t.Fatalf("no write %q among %q", call, calls)
		}
		return i
	}
	tests := []struct{ name, before, after string }{}
	// B and C are new to the repository: each one's claim is written with its push
	// (claimed ahead), so the scan is sent after both rows and the tag rows.
	for _, d := range []string{digestB, digestC} {
		tests = append(tests,
			struct{ name, before, after string }{"the push of " + shortDigests(d) + " is recorded before the tag rows", "push:" + d, "PutTags"},
			struct{ name, before, after string }{"the claim of " + shortDigests(d) + " is made before the tag rows", "claim:" + d, "PutTags"},
			struct{ name, before, after string }{"the tag rows are written before the scan of " + shortDigests(d) + " is enqueued", "PutTags", "Send scan-tasks " + d},
			struct{ name, before, after string }{"the scan of " + shortDigests(d) + " is enqueued before the run is recorded", "Send scan-tasks " + d, "RecordInvocation msg-1"},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if at(tt.before) >= at(tt.after) {
				t.Errorf("%q came after %q in %q", tt.before, tt.after, calls)
			}
		})
	}
	t.Run("a new digest's push and claim are one write", func(t *testing.T) {
		for _, d := range []string{digestB, digestC} {
			if at("push:"+d) != at("claim:"+d) {
				t.Errorf("the push and the claim of %s are separate writes: %q", shortDigests(d), calls)
			}
		}
		if n := len(m.callsMatching("PutActivities")); n != 1 {
			t.Errorf("%d activity writes, want 1 (both new digests' pushes with their claims)", n)
		}
	})
}

func TestARedeliveryResendsTheScansItsEarlierDeliveryClaimedAheadUnlessThatOneCompleted(t *testing.T) {
	clean, reg := seededRepository()
	if err := listOnce(t, clean, reg, 1); err != nil {
		t.Fatalf("failure-free listing: %v", err)
	}
	send := slices.IndexFunc(clean.calls, func(c string) bool { return strings.HasPrefix(c, "Send scan-tasks") }) + 1
	if send == 0 || send == len(clean.calls) {
		t.Fatalf("no send followed by a write among %q", clean.calls)
	}
	tests := []struct {
		name      string
		failAt    int // the first delivery's write that fails; 0: it completes
		wantTasks int
	}{
		{name: "a delivery that failed at its send is followed by one that sends", failAt: send, wantTasks: 1},
		{name: "a delivery that completed (its completion lost) is followed by one that sends nothing", failAt: 0, wantTasks: 1},
		{name: "a delivery that failed after its send is followed by one that sends again", failAt: send + 1, wantTasks: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := seededRepository()
			m.failAt, m.mode = tt.failAt, failBefore
			err := listOnce(t, m, reg, 1)
			if want := map[bool]string{true: "transient", false: "done"}[tt.failAt > 0]; outcomeOf(err) != want {
				t.Fatalf("first delivery's outcome = %s (%v), want %s", outcomeOf(err), err, want)
			}
			m.failAt = 0
			if err := listOnce(t, m, reg, 2); err != nil {
				t.Fatalf("redelivery: %v", err)
			}
			if n := len(m.sent["scan-tasks"]); n != tt.wantTasks {
				t.Errorf("%d scan tasks sent over both deliveries, want %d (writes %q)", n, tt.wantTasks, shortDigests(strings.Join(m.calls, "; ")))
			}
			if got := m.sentScans(t); len(got) != 2*tt.wantTasks {
				t.Errorf("digests sent %q, want B and C in each of %d tasks", shortDigests(strings.Join(got, " ")), tt.wantTasks)
			}
			if run := m.runs[key(runDate(testNow), "run-1", "msg-1")]; run.Enqueued != 2 || run.Failure != "" {
				t.Errorf("run row %+v, want B and C counted once and no failure", run)
			}
		})
	}
}

// listedState is what a list task leaves behind: every table it writes and the
// distinct scan tasks sent (a send repeated by a redelivery is absorbed by the scan).
type listedState struct {
	Tags     map[string]store.Tag
	Images   map[string]store.Image
	Activity map[string]store.Activity
	Findings map[string]store.Finding
	Runs     map[string]store.RunDelta
	Scans    []string
}

func stateOf(t *testing.T, m *memStore) listedState {
	s := listedState{Tags: m.tags, Images: m.images, Activity: m.activity, Findings: m.findings, Runs: map[string]store.RunDelta{}}
	for k, d := range m.runs {
		d.Deliveries = 0 // the redelivery says so; everything else must match
		s.Runs[k] = d
	}
	s.Scans = m.sentScans(t)
	slices.Sort(s.Scans)
	s.Scans = slices.Compact(s.Scans)
	return s
}

// shortDigests names the fixture digests A, B and C in s, for test names.
func shortDigests(s string) string {
	return strings.NewReplacer(digestA, "A", digestB, "B", digestC, "C").Replace(s)
}

func TestListRepoIsIdempotentUnderAFailureAtEachWrite(t *testing.T) {
	clean, reg := seededRepository()
	if err := listOnce(t, clean, reg, 1); err != nil {
		t.Fatalf("failure-free listing: %v", err)
	}
	want := stateOf(t, clean)
	if len(want.Scans) != 2 || want.Runs[key(runDate(testNow), "run-1", "msg-1")].Enqueued != 2 {
		t.Fatalf("failure-free listing sent %d scans and counted %+v; want 2 new digests enqueued and counted", len(want.Scans), want.Runs)
	}
	for _, mode := range []struct {
		name string
		mode failMode
	}{{"not applied", failBefore}, {"applied with the answer lost", failAnswered}} {
		for n, call := range clean.calls {
			t.Run(fmt.Sprintf("a failure of write %d (%s), %s, is repaired by the redelivery", n+1, shortDigests(call), mode.name), func(t *testing.T) {
				m, reg := seededRepository()
				m.failAt, m.mode = n+1, mode.mode
				err := listOnce(t, m, reg, 1)
				if got := outcomeOf(err); got != "transient" {
					t.Fatalf("first delivery's outcome = %s (%v), want transient so the host redelivers", got, err)
				}
				m.failAt = 0
				if err := listOnce(t, m, reg, 2); err != nil {
					t.Fatalf("redelivery: %v", err)
				}
				if diff := cmp.Diff(want, stateOf(t, m)); diff != "" {
					t.Errorf("state after redelivery differs from a failure-free run (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestRunDeltasAreCountedPerMessage(t *testing.T) {
	m, reg := seededRepository()
	p := unitPipeline(t, m, reg)
	text := listTaskText(t)
	deliveries := []struct {
		messageID string
		dequeue   int
	}{{"msg-1", 1}, {"msg-1", 2}, {"msg-2", 1}}
	for _, d := range deliveries {
		if err := p.ListRepo(context.Background(), queueInvocation(t, FuncListRepo, text, d.messageID, d.dequeue), discardLog()); err != nil {
			t.Fatalf("delivery %d of %s: %v", d.dequeue, d.messageID, err)
		}
	}
	date := runDate(testNow)
	want := map[string]store.RunDelta{
		// msg-1 claimed B and C on its first delivery; its redelivery replaces its row.
		key(date, "run-1", "msg-1"): {Manifests: 2, Enqueued: 2, Deliveries: 2, StartedAt: testNow, FinishedAt: testNow},
		// msg-2 lists the same repository the same day: B and C are already claimed by msg-1.
		key(date, "run-1", "msg-2"): {Manifests: 2, Enqueued: 0, Deliveries: 1, StartedAt: testNow, FinishedAt: testNow},
	}
	if diff := cmp.Diff(want, m.runs); diff != "" {
		t.Errorf("runs rows (-want +got):\n%s", diff)
	}
	if n := len(m.sentScans(t)); n != 2 {
		t.Errorf("%d digests sent to scan, want 2 (one per new digest, once per day)", n)
	}
	if n := len(m.sent["scan-tasks"]); n != 1 {
		t.Errorf("%d scan tasks sent, want 1 (the first delivery's batch of both; the others sent nothing)", n)
	}
}

func TestATagWriteThatLosesARaceReadsTheViewAgain(t *testing.T) {
	tests := []struct {
		name        string
		conflicts   int
		wantOutcome string
		wantTags    int
	}{
		{name: "one lost race is retried within the invocation", conflicts: 1, wantOutcome: "done", wantTags: 2},
		{name: "races lost on every attempt go back to the queue", conflicts: maxTagWriteAttempts, wantOutcome: "transient", wantTags: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := seededRepository()
			m.tagConflicts = tt.conflicts

			err := listOnce(t, m, reg, 1)

			if got := outcomeOf(err); got != tt.wantOutcome {
				t.Errorf("outcome = %s (%v), want %s", got, err, tt.wantOutcome)
			}
			if n := len(m.callsMatching("PutTags")); n != min(tt.conflicts+1, maxTagWriteAttempts) {
				t.Errorf("%d tag writes, want %d", n, min(tt.conflicts+1, maxTagWriteAttempts))
			}
			if len(m.tags) != tt.wantTags {
				t.Errorf("%d tag rows, want %d", len(m.tags), tt.wantTags)
			}
			if tt.wantOutcome != "done" && len(m.sent["scan-tasks"]) != 0 {
				t.Errorf("scans were enqueued although the tag view was never written")
			}
		})
	}
}
