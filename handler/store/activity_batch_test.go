package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPutActivitiesWritesOnlyOverTheVersionRead(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const reg, repo = "r.example", "batch/app"
	push := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	// 150 rows: two transactions (the service takes at most 100 operations in one).
	var fresh []ActivityRow
	for i := range 150 {
		fresh = append(fresh, ActivityRow{Activity: Activity{Digest: fmt.Sprintf("sha256:%03d", i), LastPushedAt: push, Source: "tags"}})
	}
	if _, err := s.PutActivities(ctx, reg, repo, fresh); err != nil {
		t.Fatalf("inserting 150 new rows: %v", err)
	}
	rows, err := s.ListActivityRows(ctx, reg, repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 150 {
		t.Fatalf("%d rows after inserting 150", len(rows))
	}

	t.Run("a row that exists by now is not inserted again", func(t *testing.T) {
		_, err := s.PutActivities(ctx, reg, repo, []ActivityRow{{Activity: Activity{Digest: "sha256:000", Source: "other"}}})
		if !errors.Is(err, ErrConflict) {
			t.Errorf("inserting over an existing row: %v, want ErrConflict", err)
		}
	})

	t.Run("a row written since it was read is not replaced", func(t *testing.T) {
		read := rows[1]
		// Another writer (a pull) changes the row after it was read.
		if err := s.RecordActivity(ctx, Activity{Registry: reg, Repository: repo, Digest: read.Digest, LastPulledAt: push.Add(time.Hour)}, 1); err != nil {
			t.Fatal(err)
		}
		read.ScanClaimedOn = "2025-04-01"
		_, err := s.PutActivities(ctx, reg, repo, []ActivityRow{read})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("replacing a row changed since it was read: %v, want ErrConflict", err)
		}
		got, err := s.GetActivity(ctx, reg, repo, read.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if got.PullCount != 1 || got.ScanClaimedOn != "" {
			t.Errorf("row after the refused write: pulls %d claimed %q, want the racing pull kept and no claim", got.PullCount, got.ScanClaimedOn)
		}
	})

	t.Run("rows at the version read are replaced whole, in one call across transactions", func(t *testing.T) {
		current, err := s.ListActivityRows(ctx, reg, repo)
		if err != nil {
			t.Fatal(err)
		}
		for i := range current {
			current[i].Activity, _, _ = current[i].Claim(push, "msg-1")
		}
		if _, err := s.PutActivities(ctx, reg, repo, current); err != nil {
			t.Fatalf("claiming 150 rows at their versions: %v", err)
		}
		after, err := s.ListActivity(ctx, reg, repo)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		got := map[string]string{}
		for _, a := range after {
			got[a.Digest] = a.ScanClaimedOn + " " + a.ScanClaimedBy
		}
		for _, r := range fresh {
			want[r.Digest] = "2025-04-01 msg-1"
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})
}

func TestPutActivitiesAnswersTheVersionsItWrote(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const reg, repo = "r.example", "versions/app"
	push := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	// 130 rows: two transactions, each answering its own operations' versions.
	var rows []ActivityRow
	for i := range 130 {
		rows = append(rows, ActivityRow{Activity: Activity{Digest: fmt.Sprintf("sha256:%03d", i), LastPushedAt: push, Source: "tags"}})
	}
	etags, err := s.PutActivities(ctx, reg, repo, rows)
	if err != nil {
		t.Fatalf("inserting 130 rows: %v", err)
	}
	if len(etags) != len(rows) {
		t.Fatalf("%d versions answered for 130 rows written", len(etags))
	}
	stored, err := s.ListActivityRows(ctx, reg, repo)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, r := range stored {
		want[r.Digest] = r.ETag
	}
	got := map[string]string{}
	for i, r := range rows {
		got[r.Digest] = etags[i]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("versions answered by the write against those a read gives (-read +answered):\n%s", diff)
	}

	t.Run("a write conditional on the answered versions needs no read", func(t *testing.T) {
		next := make([]ActivityRow, len(rows))
		for i, r := range rows {
			next[i] = ActivityRow{ETag: etags[i]}
			next[i].Activity, _, _ = r.Claim(push, "msg-1")
		}
		if _, err := s.PutActivities(ctx, reg, repo, next); err != nil {
			t.Fatalf("claiming at the answered versions: %v", err)
		}
	})

	t.Run("an answered version is stale once another writer changed the row", func(t *testing.T) {
		first := ActivityRow{Activity: Activity{Digest: "sha256:zzz", LastPushedAt: push, Source: "tags"}}
		etags, err := s.PutActivities(ctx, reg, repo, []ActivityRow{first})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecordActivity(ctx, Activity{Registry: reg, Repository: repo, Digest: first.Digest, LastPulledAt: push.Add(time.Hour)}, 1); err != nil {
			t.Fatal(err)
		}
		claim := ActivityRow{ETag: etags[0]}
		claim.Activity, _, _ = first.Claim(push, "msg-2")
		if _, err := s.PutActivities(ctx, reg, repo, []ActivityRow{claim}); !errors.Is(err, ErrConflict) {
			t.Errorf("writing over a row changed after the answered version: %v, want ErrConflict", err)
		}
	})
}

func TestMergeActivityIsRecordActivitysRule(t *testing.T) {
	push := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	prev := Activity{Digest: "sha256:x", LastPushedAt: push, PushSource: "acr", LastPulledAt: push.Add(time.Hour), PullSource: "logs",
		PullCount: 4, Source: "acr", Platforms: "linux/amd64 sha256:y", ScanClaimedOn: "2025-04-01", ScanClaimedBy: "m", UntrackedAt: push}
	tests := []struct {
		name string
		prev *Activity
		obs  Activity
		want Activity
	}{
		{name: "a first observation is the row",
			obs:  Activity{Digest: "sha256:x", LastPushedAt: push, Source: "tags", PushSource: "tags"},
			want: Activity{Digest: "sha256:x", LastPushedAt: push, Source: "tags", PushSource: "tags", PullCount: 2}},
		{name: "a later push wins with its source; pulls, claim, mark and platforms stay",
			prev: &prev, obs: Activity{Digest: "sha256:x", LastPushedAt: push.Add(2 * time.Hour), Source: "tags", PushSource: "tags"},
			want: Activity{Digest: "sha256:x", LastPushedAt: push.Add(2 * time.Hour), PushSource: "tags", LastPulledAt: push.Add(time.Hour), PullSource: "logs",
				PullCount: 6, Source: "tags", Platforms: "linux/amd64 sha256:y", ScanClaimedOn: "2025-04-01", ScanClaimedBy: "m", UntrackedAt: push}},
		{name: "an earlier push loses and keeps the stored source",
			prev: &prev, obs: Activity{Digest: "sha256:x", LastPushedAt: push.Add(-time.Hour), PushSource: "tags"},
			want: Activity{Digest: "sha256:x", LastPushedAt: push, PushSource: "acr", LastPulledAt: push.Add(time.Hour), PullSource: "logs",
				PullCount: 6, Source: "acr", Platforms: "linux/amd64 sha256:y", ScanClaimedOn: "2025-04-01", ScanClaimedBy: "m", UntrackedAt: push}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, MergeActivity(tt.prev, tt.obs, 2)); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAClaimMadeAheadIsStoredAsSuchUntilTheNextDaysClaim(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const reg, repo, digest = "r.example", "ahead/app", "sha256:ahead"
	day := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	read := func(t *testing.T) Activity {
		t.Helper()
		a, err := s.GetActivity(ctx, reg, repo, digest)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	pushed := Activity{Digest: digest, LastPushedAt: day, Source: "tags"}
	ahead, claimed := pushed.ClaimAhead(day, "msg-1")
	if !claimed {
		t.Fatal("an unclaimed row was not claimed ahead")
	}
	if _, err := s.PutActivities(ctx, reg, repo, []ActivityRow{{Activity: ahead}}); err != nil {
		t.Fatalf("writing the push with its claim: %v", err)
	}
	if got := read(t); !got.ScanClaimedAhead || got.ScanClaimedBy != "msg-1" || got.ScanClaimedOn != "2025-04-01" {
		t.Fatalf("row %+v: want claimed ahead by msg-1 on 2025-04-01", got)
	}
	t.Run("a pull merged into the row keeps the claim as made", func(t *testing.T) {
		if err := s.RecordActivity(ctx, Activity{Registry: reg, Repository: repo, Digest: digest, LastPulledAt: day.Add(time.Hour)}, 1); err != nil {
			t.Fatal(err)
		}
		if got := read(t); !got.ScanClaimedAhead || got.ScanClaimedBy != "msg-1" {
			t.Errorf("row %+v: want the claim ahead by msg-1 kept", got)
		}
	})
	t.Run("another claimant's claim of the day is refused", func(t *testing.T) {
		if _, ok := read(t).ClaimAhead(day, "msg-2"); ok {
			t.Error("msg-2 claimed a digest msg-1 claimed the same day")
		}
	})
	t.Run("the next day's claim, made after its send, is not ahead", func(t *testing.T) {
		claimed, err := s.ClaimScanAs(ctx, reg, repo, digest, day.AddDate(0, 0, 1), "msg-3")
		if err != nil || !claimed {
			t.Fatalf("claiming the next day: %v, %v", claimed, err)
		}
		if got := read(t); got.ScanClaimedAhead || got.ScanClaimedBy != "msg-3" {
			t.Errorf("row %+v: want msg-3's claim, not ahead", got)
		}
	})
}

func TestGetInvocationReadsWhatTheInvocationRecorded(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.GetInvocation(ctx, "2025-04-01", "run-1", "msg-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an invocation that recorded nothing: %v, want ErrNotFound", err)
	}
	done := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	want := RunDelta{Manifests: 3, Enqueued: 2, Deliveries: 2, Failure: "x: boom", StartedAt: done.Add(-time.Second), FinishedAt: done}
	if err := s.RecordInvocation(ctx, "2025-04-01", "run-1", "msg-1", want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetInvocation(ctx, "2025-04-01", "run-1", "msg-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("invocation row (-recorded +read):\n%s", diff)
	}
}
