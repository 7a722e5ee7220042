package store

import (
	"cmp"
	"context"
	"fmt"
)

// RecordPulls merges a windowed pull count into the digest's row: obs.PullCount is
// the number of pulls in the window ending at obs.PullsCountedAt (not an increment),
// and replaces the stored count unless the row was counted later (an older count
// arriving late changes nothing). LastPulledAt only moves forward, push activity and
// the scan claim are kept, and Source becomes obs.Source when given. Writing the same
// observation twice leaves the row as it was after the first.
func (s *Store) RecordPulls(ctx context.Context, obs Activity) error {
	pk, rk := repoKey(obs.Registry, obs.Repository), EscapeKey(obs.Digest)
	err := readModifyWrite(ctx, s.activity, pk, rk, func(current row, exists bool) (entity, bool, error) {
		next := Activity{Registry: obs.Registry, Repository: obs.Repository, Digest: obs.Digest}
		if exists {
			prev, err := activityFromRow(current)
			if err != nil {
				return nil, false, err
			}
			next = prev
		}
		if !obs.PullsCountedAt.Before(next.PullsCountedAt) {
			next.PullCount, next.PullsCountedAt = obs.PullCount, obs.PullsCountedAt
		}
		next.LastPulledAt, next.PullSource = laterWithSource(next.LastPulledAt, next.PullSource, obs.LastPulledAt, cmp.Or(obs.PullSource, obs.Source))
		if obs.Source != "" {
			next.Source = obs.Source
		}
		return next.entity(), true, nil
	})
	if err != nil {
		return fmt.Errorf("recording pulls of %s/%s@%s: %w", obs.Registry, obs.Repository, obs.Digest, err)
	}
	return nil
}
