package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestARunSummaryShowsTheGenerationsItsInvocationsUsedAndTheirWorstAge(t *testing.T) {
	start := time.Date(2025, 7, 1, 6, 0, 0, 0, time.UTC)
	checkedA, checkedB := start.Add(-90*time.Minute), start.Add(-2*time.Minute)
	scanAt := func(gen string, checked time.Time, minutes int) RunDelta {
		return RunDelta{Scanned: 1, Generation: gen, AdvisoryCheckedAt: checked, StartedAt: start.Add(time.Duration(minutes) * time.Minute)}
	}
	type advisoryColumns struct {
		Generation         string
		AdvisoryCheckedAt  time.Time
		AdvisoryAgeMinutes int
		Folders            string
		RejectedRecords    int
	}
	for _, tc := range []struct {
		name   string
		deltas []RunDelta
		want   advisoryColumns
	}{
		{
			name:   "a run whose invocations used no advisories shows none",
			deltas: []RunDelta{{Repositories: 3, StartedAt: start}},
			want:   advisoryColumns{},
		},
		{
			name:   "scans of one generation show it once with its age at the latest start",
			deltas: []RunDelta{scanAt("gen-a", checkedA, 0), scanAt("gen-a", checkedA, 10)},
			want:   advisoryColumns{Generation: "gen-a", AdvisoryCheckedAt: checkedA, AdvisoryAgeMinutes: 100},
		},
		{
			name: "a switch during the run lists both generations in the order first used and the oldest check",
			deltas: []RunDelta{
				scanAt("gen-b", checkedB, 7), scanAt("gen-a", checkedA, 1), scanAt("gen-a", checkedA, 5), {Manifests: 2, StartedAt: start},
			},
			want: advisoryColumns{Generation: "gen-a, gen-b", AdvisoryCheckedAt: checkedA, AdvisoryAgeMinutes: 95},
		},
		{
			name: "more than four generations are listed four then counted",
			deltas: []RunDelta{
				scanAt("g1", checkedB, 1), scanAt("g2", checkedB, 2), scanAt("g3", checkedB, 3),
				scanAt("g4", checkedB, 4), scanAt("g5", checkedB, 5), scanAt("g6", checkedB, 6),
			},
			want: advisoryColumns{Generation: "g1, g2, g3, g4, … and 2 more", AdvisoryCheckedAt: checkedB, AdvisoryAgeMinutes: 8},
		},
		{
			name: "an advisories tick shows its folders and the records its exports rejected",
			deltas: []RunDelta{{Generation: "gen-b", AdvisoryCheckedAt: start, StartedAt: start,
				Folders: "Debian updated 11382 records; GIT unchanged 130 records", RejectedRecords: 3}},
			want: advisoryColumns{Generation: "gen-b", AdvisoryCheckedAt: start,
				Folders: "Debian updated 11382 records; GIT unchanged 130 records", RejectedRecords: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := summarize("2025-07-01", "run-1", tc.deltas)
			got := advisoryColumns{r.Generation, r.AdvisoryCheckedAt, r.AdvisoryAgeMinutes, r.Folders, r.RejectedRecords}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("advisory columns of the summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTheAdvisoryColumnsOfARunAreStoredOnItsRows(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	start := time.Date(2025, 7, 2, 6, 0, 0, 0, time.UTC)
	checked := start.Add(-3 * time.Hour)
	d := RunDelta{Scanned: 1, Generation: "20250702T030000.000Z-0a1b2c3d", AdvisoryCheckedAt: checked,
		Folders: "Debian unchanged 11382 records", RejectedRecords: 2, StartedAt: start, FinishedAt: start.Add(time.Second)}
	if err := s.RecordInvocation(ctx, "2025-07-02", "run-a", "message-a", d); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "2025-07-02", "run-a")
	if err != nil {
		t.Fatal(err)
	}
	want := Run{Date: "2025-07-02", ID: "run-a", Scanned: 1, Invocations: 1, Deliveries: 1,
		Generation: d.Generation, AdvisoryCheckedAt: checked, AdvisoryAgeMinutes: 180,
		Folders: d.Folders, RejectedRecords: 2,
		StartedAt: start, FinishedAt: start.Add(time.Second), DurationMs: 1000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary row read back (-want +got):\n%s", diff)
	}
}
