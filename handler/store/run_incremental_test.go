package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReplacingAnInvocationsContributionIsExactOrSaysItCannotBe(t *testing.T) {
	at := time.Date(2025, 7, 8, 6, 0, 0, 0, time.UTC)
	gen := func(g string, minutes int) RunDelta {
		return RunDelta{Generation: g, StartedAt: at.Add(time.Duration(minutes) * time.Minute)}
	}
	finished := func(minutes int) RunDelta { return RunDelta{FinishedAt: at.Add(time.Duration(minutes) * time.Minute)} }
	type columns struct {
		Scanned, Failed, Retried, Invocations, Deliveries int
		Failures, Generation                              string
		FinishedAt                                        time.Time
	}
	long := strings.Repeat("x", 5000)
	var full []RunDelta
	for i := range 10 {
		full = append(full, RunDelta{Failed: 1, Failure: fmt.Sprint(i, long)})
	}
	fullText := summarize("d", "r", full).Failures
	for _, tc := range []struct {
		name     string
		rows     []RunDelta
		replaced int // index into rows; -1: a new row
		next     RunDelta
		wantOK   bool
		want     columns
	}{
		{
			name: "a redelivery that failed after one that scanned swaps the counters and shows its failure",
			rows: []RunDelta{{Scanned: 1, Deliveries: 1}, {Scanned: 1, Deliveries: 1}}, replaced: 1,
			next:   RunDelta{Retried: 1, Failure: "registry:\n503", Deliveries: 2},
			wantOK: true, want: columns{Scanned: 1, Retried: 1, Invocations: 2, Deliveries: 3, Failures: "registry: 503"},
		},
		{
			name: "taking a failure line back leaves the identical line of another invocation",
			rows: []RunDelta{{Failed: 1, Failure: "boom"}, {Failed: 1, Failure: "boom"}}, replaced: 0,
			next:   RunDelta{Scanned: 1},
			wantOK: true, want: columns{Scanned: 1, Failed: 1, Invocations: 2, Deliveries: 2, Failures: "boom"},
		},
		{
			name: "a failure not shown because the column is full is not looked for",
			rows: full, replaced: 9, next: RunDelta{Scanned: 1},
			wantOK: true, want: columns{Scanned: 1, Failed: 9, Invocations: 10, Deliveries: 10, Failures: fullText},
		},
		{
			name: "a new row adds to the counters",
			rows: []RunDelta{{Scanned: 1, Deliveries: 3}}, replaced: -1, next: RunDelta{Scanned: 2},
			wantOK: true, want: columns{Scanned: 3, Invocations: 2, Deliveries: 4},
		},
		{
			name: "the run's latest finish leaving for an earlier one cannot be taken back",
			rows: []RunDelta{finished(60), finished(0)}, replaced: 0, next: finished(30),
		},
		{
			name: "an earlier finish leaving keeps the latest",
			rows: []RunDelta{finished(30), finished(60)}, replaced: 0, next: finished(10),
			wantOK: true, want: columns{Invocations: 2, Deliveries: 2, FinishedAt: at.Add(time.Hour)},
		},
		{
			name: "the only row of a generation leaving removes the generation",
			rows: []RunDelta{gen("gen-a", 0), gen("gen-b", 1)}, replaced: 1, next: gen("gen-a", 1),
			wantOK: true, want: columns{Invocations: 2, Deliveries: 2, Generation: "gen-a"},
		},
		{
			name: "a generation's first use leaving while other rows use it cannot be taken back",
			rows: []RunDelta{gen("gen-a", 0), gen("gen-a", 1), gen("gen-b", 2)}, replaced: 0, next: gen("gen-b", 0),
		},
		{
			name: "a redelivery keeping its generation keeps the order",
			rows: []RunDelta{gen("gen-b", 0), gen("gen-a", 1)}, replaced: 0, next: gen("gen-b", 0),
			wantOK: true, want: columns{Invocations: 2, Deliveries: 2, Generation: "gen-b, gen-a"},
		},
		{
			name: "a new row using a generation before the first listed moves it first",
			rows: []RunDelta{gen("gen-a", 1)}, replaced: -1, next: gen("gen-b", 0),
			wantOK: true, want: columns{Invocations: 2, Deliveries: 2, Generation: "gen-b, gen-a"},
		},
		{
			name: "Folders changed by a redelivery cannot be taken back",
			rows: []RunDelta{{Folders: "Debian updated 1 records"}}, replaced: 0, next: RunDelta{Folders: "Debian unchanged 1 records"},
		},
		{
			name: "the largest advisory age leaving for a smaller one cannot be taken back",
			rows: []RunDelta{
				{AdvisoryCheckedAt: at.Add(-time.Hour), StartedAt: at.Add(time.Hour)},
				{AdvisoryCheckedAt: at.Add(-time.Hour), StartedAt: at},
			},
			replaced: 0, next: RunDelta{AdvisoryCheckedAt: at, StartedAt: at.Add(time.Hour)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := summarizeState("d", "r", tc.rows)
			var old *RunDelta
			if tc.replaced >= 0 {
				old = &tc.rows[tc.replaced]
			}
			after, ok := before.replace(old, tc.next)
			if ok != tc.wantOK {
				t.Fatalf("replace ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			r := after.run
			got := columns{r.Scanned, r.Failed, r.Retried, r.Invocations, r.Deliveries, r.Failures, r.Generation, r.FinishedAt}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("summary columns (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenerationUseSurvivesItsColumn(t *testing.T) {
	at := time.Date(2025, 7, 8, 6, 0, 0, 123456700, time.UTC)
	g := generationUse{"20250708T030000.000Z-0a1b2c3d": {first: at, rows: 3}, "gen b": {rows: 1}}
	got, err := decodeGenerationUse(g.encode())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(g, got, cmp.AllowUnexported(generationFirstUse{})); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"x 2025-07-08T06:00:00Z g", "1 yesterday g", "1 -", "0 - g"} {
		if _, err := decodeGenerationUse(bad); err == nil {
			t.Errorf("decodeGenerationUse(%q) accepted it", bad)
		}
	}
}
