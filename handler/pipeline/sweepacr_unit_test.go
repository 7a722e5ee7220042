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
