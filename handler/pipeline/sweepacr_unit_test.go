package pipeline

import (
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/store"
)

func TestUnchangedSince(t *testing.T) {
	listed := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	updated := time.Date(2026, 12, 2, 5, 0, 0, 123456700, time.UTC) // 100 ns precision, as stored
	seen := store.RepositoryActivity{LastUpdateTime: updated, ListedAt: listed}
	for _, tc := range []struct {
		name       string
		seen       store.RepositoryActivity
		lastUpdate time.Time
		now        time.Time
		want       bool
	}{
		{"a repository never listed is not unchanged", store.RepositoryActivity{}, updated, listed, false},
		{"the same time minutes later is unchanged", seen, updated, listed.Add(10 * time.Minute), true},
		{"a time finer than the table's 100 ns is the same time", seen, updated.Add(99 * time.Nanosecond), listed.Add(time.Minute), true},
		{"a time 100 ns later is a change", seen, updated.Add(100 * time.Nanosecond), listed.Add(time.Minute), false},
		{"an earlier time is a change too", seen, updated.Add(-time.Second), listed.Add(time.Minute), false},
		{"the same time a day after the listing is due again", seen, updated, listed.Add(relistAfter), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unchangedSince(tc.seen, tc.lastUpdate, tc.now); got != tc.want {
				t.Errorf("unchangedSince = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOnlyAnACRSweepThatListsANeverListedRepositoryAsksWhichAreNew(t *testing.T) {
	listed := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	seen := map[string]store.RepositoryActivity{"listed": {Registry: testRegistry, Repository: "listed", ListedAt: listed}}
	newMarks := func(m *memStore, names ...string) (map[string]bool, int) {
		toList := make([]store.ListRepository, 0, len(names))
		for _, n := range names {
			toList = append(toList, store.ListRepository{Name: n})
		}
		p := unitPipeline(t, m, fakeRegistry{})
		p.markNewACRRepositories(t.Context(), discardLog(), testRegistry, toList, seen)
		marks := map[string]bool{}
		for _, r := range toList {
			marks[r.Name] = r.New
		}
		return marks, len(m.reads)
	}
	t.Run("changed repositories listed before are not queried for", func(t *testing.T) {
		marks, reads := newMarks(newMemStore(), "listed")
		if reads != 0 || marks["listed"] {
			t.Errorf("%d reads, marks %v: want no read and nothing marked new", reads, marks)
		}
	})
	t.Run("a never-listed repository without activity is new, one with activity and a listed one are not", func(t *testing.T) {
		m := newMemStore()
		m.activity[key(testRegistry, "pulled", digestA)] = store.Activity{Registry: testRegistry, Repository: "pulled", Digest: digestA, LastPulledAt: listed}
		marks, reads := newMarks(m, "listed", "fresh", "pulled")
		want := map[string]bool{"listed": false, "fresh": true, "pulled": false}
		if reads != 1 || marks["listed"] != want["listed"] || marks["fresh"] != want["fresh"] || marks["pulled"] != want["pulled"] {
			t.Errorf("%d reads, marks %v: want one read and %v", reads, marks, want)
		}
	})
}
