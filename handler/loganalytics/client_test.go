package loganalytics_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/loganalytics"
)

const (
	workspace = "63613592-b6f7-4c3d-a390-22ba13102111"
	acr       = "contoso.azurecr.io"
	digestA   = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB   = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	docker    = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))"
	tidewatch = "tidewatch/v1.4.0 go-containerregistry/v0.20.3"
)

var now = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)

func client(t *testing.T, la *testenv.LogAnalytics, opts ...loganalytics.Option) *loganalytics.Client {
	t.Helper()
	base := []loganalytics.Option{
		loganalytics.WithEndpoint(la.URL), loganalytics.WithTransport(la.Client),
		loganalytics.WithOwnUserAgent("tidewatch/"),
		loganalytics.WithRetry(policy.RetryOptions{MaxRetries: -1}),
	}
	c, err := loganalytics.New(la.Credential(), workspace, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pull(at time.Time, repo, digest, ua string) testenv.LogEvent {
	return testenv.LogEvent{TimeGenerated: at, OperationName: "Pull", LoginServer: acr, Repository: repo, Digest: digest, UserAgent: ua}
}

func TestPullsAreCountedPerDigestWithoutTidewatchsOwn(t *testing.T) {
	la := testenv.StartLogAnalytics(t, workspace)
	day := 24 * time.Hour
	la.Add(
		pull(now.Add(-10*day), "team/api", digestA, docker),
		pull(now.Add(-2*day), "team/api", digestA, "containerd/v1.7.22"),
		pull(now.Add(-time.Hour), "team/api", digestA, docker),
		pull(now.Add(-10*time.Minute), "team/api", digestA, tidewatch),      // our own scan
		pull(now.Add(-5*time.Minute), "team/api", digestA, "TideWatch/dev"), // startswith is case-insensitive
		pull(now.Add(-40*day), "team/api", digestA, docker),                 // before the window
		pull(now.Add(-3*day), "team/api", digestB, docker),                  // same digest elsewhere is its own row
		pull(now.Add(-3*day), "team/web", digestB, docker),
		pull(now.Add(-4*day), "team/web", digestB, docker),
		pull(now.Add(-time.Hour), "team/scanned-only", digestA, tidewatch), // only our pulls: no row
		testenv.LogEvent{TimeGenerated: now.Add(-day), OperationName: "Push", LoginServer: acr, Repository: "team/api", Digest: digestB, UserAgent: docker},
		testenv.LogEvent{TimeGenerated: now.Add(-day), OperationName: "Pull", LoginServer: "other.azurecr.io", Repository: "team/api", Digest: digestB, UserAgent: docker},
		testenv.LogEvent{TimeGenerated: now.Add(-day), OperationName: "Pull", LoginServer: "CONTOSO.azurecr.io", Repository: "team/web", Digest: digestA, UserAgent: docker},
	)
	res, err := client(t, la).Pulls(context.Background(), acr, now.Add(-30*day), now)
	if err != nil {
		t.Fatal(err)
	}
	want := loganalytics.Result{Pulls: []loganalytics.Pull{
		{Repository: "team/api", Digest: digestA, LastPulledAt: now.Add(-time.Hour), Count: 3},
		{Repository: "team/api", Digest: digestB, LastPulledAt: now.Add(-3 * day), Count: 1},
		{Repository: "team/web", Digest: digestA, LastPulledAt: now.Add(-day), Count: 1},
		{Repository: "team/web", Digest: digestB, LastPulledAt: now.Add(-3 * day), Count: 2},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("pulls (-want +got):\n%s", diff)
	}
	reqs := la.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	wantReq := testenv.LogQuery{Workspace: workspace, Timespan: "2026-11-02T06:00:00Z/2026-12-02T06:00:00Z",
		Authorization: "Bearer " + la.Token, Prefer: "wait=120"}
	reqs[0].Query = ""
	if diff := cmp.Diff(wantReq, reqs[0]); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestRowsThatAreNotAReferenceAreLeftOutAndListed(t *testing.T) {
	la := testenv.StartLogAnalytics(t, workspace)
	la.Add(
		pull(now.Add(-time.Hour), "team/api", digestA, docker),
		pull(now.Add(-time.Hour), "team/../etc", digestA, docker),
		pull(now.Add(-time.Hour), "team/api", "sha256:not-a-digest", docker),
		pull(now.Add(-time.Hour), "Team/API", digestA, docker),
	)
	res, err := client(t, la).Pulls(context.Background(), acr, now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]loganalytics.Pull{{Repository: "team/api", Digest: digestA, LastPulledAt: now.Add(-time.Hour), Count: 1}}, res.Pulls); diff != "" {
		t.Errorf("pulls (-want +got):\n%s", diff)
	}
	if res.RejectedCount != 3 || len(res.Rejected) != 3 {
		t.Errorf("rejected %d rows (%q), want 3", res.RejectedCount, res.Rejected)
	}
	for _, bad := range []string{`"team/../etc"`, `"sha256:not-a-digest"`, `"Team/API"`} {
		if !strings.Contains(strings.Join(res.Rejected, "\n"), bad) {
			t.Errorf("rejected rows %q do not name %s", res.Rejected, bad)
		}
	}
}

func TestCountsAreReadAsNumbersOrStrings(t *testing.T) {
	la := testenv.StartLogAnalytics(t, workspace)
	la.Answer(func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"tables":[{"name":"PrimaryResult","columns":[
			{"name":"Repository","type":"string"},{"name":"Digest","type":"string"},
			{"name":"LastPulledAt","type":"datetime"},{"name":"PullCount","type":"long"}],
			"rows":[["team/api","` + digestA + `","2026-12-01T05:59:59.1234567Z",12],
			        ["team/web","` + digestB + `","2026-11-30T00:00:00Z","7"]]}]}`))
		return true
	})
	res, err := client(t, la).Pulls(context.Background(), acr, now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	want := []loganalytics.Pull{
		{Repository: "team/api", Digest: digestA, LastPulledAt: time.Date(2026, 12, 1, 5, 59, 59, 123456700, time.UTC), Count: 12},
		{Repository: "team/web", Digest: digestB, LastPulledAt: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Count: 7},
	}
	if diff := cmp.Diff(want, res.Pulls); diff != "" {
		t.Errorf("pulls (-want +got):\n%s", diff)
	}
}

func TestFailedQueriesSayWhetherAskingAgainCanHelp(t *testing.T) {
	tests := []struct {
		name          string
		answer        func(http.ResponseWriter, *http.Request, []byte) bool
		opts          []loganalytics.Option
		wantPermanent bool
		wantIs        error
		wantText      string
	}{
		{name: "a partial result is a transient error, not a smaller answer",
			answer: testenv.PartialAnswer, wantIs: loganalytics.ErrPartial, wantText: "PartialError"},
		{name: "a query that does not answer in time is a transient error",
			answer: testenv.HangingAnswer, opts: []loganalytics.Option{loganalytics.WithTimeout(300 * time.Millisecond)},
			wantIs: context.DeadlineExceeded},
		{name: "throttling is transient",
			answer: testenv.StatusAnswer(http.StatusTooManyRequests, "TooManyRequests"), wantText: "429"},
		{name: "a server error is transient",
			answer: testenv.StatusAnswer(http.StatusServiceUnavailable, "ServiceUnavailable"), wantText: "503"},
		{name: "a missing role is permanent and says which role",
			answer: testenv.StatusAnswer(http.StatusForbidden, "InsufficientAccessError"), wantPermanent: true, wantText: "Log Analytics Reader"},
		{name: "a rejected query is permanent",
			answer: testenv.StatusAnswer(http.StatusBadRequest, "BadArgumentError"), wantPermanent: true, wantText: "BadArgumentError"},
		{name: "an unknown workspace is permanent",
			answer: testenv.StatusAnswer(http.StatusNotFound, "WorkspaceNotFoundError"), wantPermanent: true, wantText: "404"},
		{name: "a result without the expected columns is permanent",
			answer: func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
				_, _ = w.Write([]byte(`{"tables":[{"name":"PrimaryResult","columns":[{"name":"Repository","type":"string"}],"rows":[]}]}`))
				return true
			},
			wantPermanent: true, wantIs: loganalytics.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			la := testenv.StartLogAnalytics(t, workspace)
			la.Add(pull(now.Add(-time.Hour), "team/api", digestA, docker))
			la.Answer(tt.answer)
			res, err := client(t, la, tt.opts...).Pulls(context.Background(), acr, now.Add(-24*time.Hour), now)
			if err == nil {
				t.Fatalf("no error, result %+v", res)
			}
			if res.Pulls != nil {
				t.Errorf("pulls %+v returned with the error, want none", res.Pulls)
			}
			if got := loganalytics.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tt.wantPermanent, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
		})
	}
}

func TestAQueryWithAWrongTokenIsRefused(t *testing.T) {
	la := testenv.StartLogAnalytics(t, workspace)
	c, err := loganalytics.New(testenv.StaticToken("another-token"), workspace,
		loganalytics.WithEndpoint(la.URL), loganalytics.WithTransport(la.Client), loganalytics.WithRetry(policy.RetryOptions{MaxRetries: -1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Pulls(context.Background(), acr, now.Add(-time.Hour), now)
	if err == nil || !loganalytics.IsPermanent(err) {
		t.Errorf("error %v, want a permanent 401", err)
	}
}
