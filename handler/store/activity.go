package store

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Activity is what Tidewatch knows about a digest's use: a row of the activity table
// (PartitionKey "registry/repository", RowKey the digest).
type Activity struct {
	Registry     string
	Repository   string
	Digest       string
	LastPushedAt time.Time
	LastPulledAt time.Time
	PullCount    int64
	// LastDeletedAt is when a registry event last reported the digest's manifest
	// deleted; a push event from before it is stale.
	LastDeletedAt time.Time
	// PullsCountedAt is when PullCount was counted, for a source that counts pulls
	// over a window (Log Analytics: PullCount is the pulls in the window up to it);
	// see [Store.RecordPulls]. Zero for sources that add pulls one by one.
	PullsCountedAt time.Time
	// Source names where the latest activity came from ("acr", "webhook", "tags", …).
	Source string
	// PushSource and PullSource name where LastPushedAt and LastPulledAt came from
	// (columns LastPushedSource, LastPulledSource).
	PushSource, PullSource string
	// Platforms lists an index's child manifests as the registry reported them
	// ("linux/amd64 sha256:…, linux/arm64 sha256:…"; ACR's references), or "".
	Platforms string
	// UntrackedAt is when the digest left both activity windows and its findings
	// were resolved untracked; zero while it is tracked (see [Store.SetUntracked]).
	UntrackedAt time.Time
	// ScanClaimedOn is the UTC day ("2006-01-02") a scan task was last enqueued for
	// this digest; see [Store.ClaimScan].
	ScanClaimedOn string
	// ScanClaimedBy is who made that claim (see [Store.ClaimScanAs]), or "".
	ScanClaimedBy string
	// ScanClaimedAhead reports that the claim was written with the push that made
	// the digest due, before its scan task was sent (see [Activity.ClaimAhead]): the
	// claimant's redelivered message sends it again, since it cannot tell whether its
	// earlier delivery got that far; anyone else takes it as claimed.
	ScanClaimedAhead bool
}

// ActivityRow is an activity row with the entity version it was read at
// ([Store.ListActivityRows]): [Store.PutActivities] writes it only if the stored row
// is still at ETag ("" means the row must not exist yet).
type ActivityRow struct {
	Activity
	ETag string
}

func (a Activity) entity() entity {
	e := newEntity(repoKey(a.Registry, a.Repository), EscapeKey(a.Digest))
	e.setString("Registry", a.Registry)
	e.setString("Repository", a.Repository)
	e.setTime("LastPushedAt", a.LastPushedAt)
	e.setTime("LastPulledAt", a.LastPulledAt)
	e.setInt64("PullCount", a.PullCount)
	if !a.LastDeletedAt.IsZero() {
		e.setTime("LastDeletedAt", a.LastDeletedAt)
	}
	e.setTime("PullsCountedAt", a.PullsCountedAt)
	e.setString("Source", a.Source)
	if a.PushSource != "" {
		e.setString("LastPushedSource", a.PushSource)
	}
	if a.PullSource != "" {
		e.setString("LastPulledSource", a.PullSource)
	}
	if a.Platforms != "" {
		e.setString("Platforms", a.Platforms)
	}
	e.setTime("UntrackedAt", a.UntrackedAt)
	if a.ScanClaimedOn != "" {
		e.setString("ScanClaimedOn", a.ScanClaimedOn)
	}
	if a.ScanClaimedBy != "" {
		e.setString("ScanClaimedBy", a.ScanClaimedBy)
	}
	if a.ScanClaimedAhead {
		e.setBool("ScanClaimedAhead", true)
	}
	return e
}

func activityFromRow(r row) (Activity, error) {
	digest, err := UnescapeKey(r.rowKey())
	if err != nil {
		return Activity{}, err
	}
	return Activity{
		Registry:         r.str("Registry"),
		Repository:       r.str("Repository"),
		Digest:           digest,
		LastPushedAt:     r.time("LastPushedAt"),
		LastPulledAt:     r.time("LastPulledAt"),
		PullCount:        r.int64("PullCount"),
		LastDeletedAt:    r.time("LastDeletedAt"),
		PullsCountedAt:   r.time("PullsCountedAt"),
		Source:           r.str("Source"),
		PushSource:       r.str("LastPushedSource"),
		PullSource:       r.str("LastPulledSource"),
		Platforms:        r.str("Platforms"),
		UntrackedAt:      r.time("UntrackedAt"),
		ScanClaimedOn:    r.str("ScanClaimedOn"),
		ScanClaimedBy:    r.str("ScanClaimedBy"),
		ScanClaimedAhead: r.bool("ScanClaimedAhead"),
	}, nil
}

// GetActivity reads one digest's activity; ErrNotFound when absent.
func (s *Store) GetActivity(ctx context.Context, registry, repository, digest string) (Activity, error) {
	r, err := getRow(ctx, s.activity, repoKey(registry, repository), EscapeKey(digest))
	if err != nil {
		return Activity{}, fmt.Errorf("reading activity %s/%s@%s: %w", registry, repository, digest, err)
	}
	return activityFromRow(r)
}

// ListActivity returns the activity of every digest of one repository.
func (s *Store) ListActivity(ctx context.Context, registry, repository string) ([]Activity, error) {
	rows, err := s.ListActivityRows(ctx, registry, repository)
	if err != nil {
		return nil, err
	}
	out := make([]Activity, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Activity)
	}
	return out, nil
}

// ListActivityRows returns the activity of every digest of one repository, each with
// its ETag: one query of the partition.
func (s *Store) ListActivityRows(ctx context.Context, registry, repository string) ([]ActivityRow, error) {
	rows, err := listRows(ctx, s.activity, "PartitionKey eq "+odataQuote(repoKey(registry, repository)), "")
	if err != nil {
		return nil, fmt.Errorf("listing activity of %s/%s: %w", registry, repository, err)
	}
	out := make([]ActivityRow, 0, len(rows))
	for _, r := range rows {
		if r.rowKey() == repositoryRowKey {
			continue
		}
		a, err := activityFromRow(r)
		if err != nil {
			return nil, fmt.Errorf("listing activity of %s/%s: %w", registry, repository, err)
		}
		out = append(out, ActivityRow{Activity: a, ETag: r.etag})
	}
	return out, nil
}

// RecordActivity merges an observation into the digest's row: later push, pull and
// delete times win, push and pull each with its source (PushSource, PullSource: the
// observation's when its time is not earlier than the row's), pulls adds to
// PullCount, and Source and Platforms are replaced when given. Concurrent recorders
// are serialised by ETag so no pull is lost.
func (s *Store) RecordActivity(ctx context.Context, obs Activity, pulls int64) error {
	pk, rk := repoKey(obs.Registry, obs.Repository), EscapeKey(obs.Digest)
	err := readModifyWrite(ctx, s.activity, pk, rk, func(current row, exists bool) (entity, bool, error) {
		var prev *Activity
		if exists {
			a, err := activityFromRow(current)
			if err != nil {
				return nil, false, err
			}
			prev = &a
		}
		return MergeActivity(prev, obs, pulls).entity(), true, nil
	})
	if err != nil {
		return fmt.Errorf("recording activity %s/%s@%s: %w", obs.Registry, obs.Repository, obs.Digest, err)
	}
	return nil
}

// ClaimScan claims the right to enqueue a scan of digest on day's UTC date. Exactly
// one caller per digest per day gets true, however many race for it.
func (s *Store) ClaimScan(ctx context.Context, registry, repository, digest string, day time.Time) (bool, error) {
	return s.ClaimScanAs(ctx, registry, repository, digest, day, "")
}

// ClaimScanAs is [Store.ClaimScan] on behalf of claimant (a queue message id) and
// records it in ScanClaimedBy, so a redelivered message can tell its own earlier
// claims (see Activity.ScanClaimedBy) from other callers'. A claimant asking again
// for its own claim of the day gets true again.
func (s *Store) ClaimScanAs(ctx context.Context, registry, repository, digest string, day time.Time, claimant string) (bool, error) {
	date := day.UTC().Format(time.DateOnly)
	claimed := false
	pk, rk := repoKey(registry, repository), EscapeKey(digest)
	err := readModifyWrite(ctx, s.activity, pk, rk, func(current row, exists bool) (entity, bool, error) {
		prev := Activity{Registry: registry, Repository: repository, Digest: digest}
		if exists {
			a, err := activityFromRow(current)
			if err != nil {
				return nil, false, err
			}
			prev = a
		}
		next, write, ok := prev.Claim(day, claimant)
		claimed = ok
		return next.entity(), write, nil
	})
	if err != nil {
		return false, fmt.Errorf("claiming scan of %s/%s@%s on %s: %w", registry, repository, digest, date, err)
	}
	return claimed, nil
}

// MergeActivity is [Store.RecordActivity]'s rule: the row an observation obs (with
// pulls more pulls) makes of prev, the stored row (nil when there is none).
func MergeActivity(prev *Activity, obs Activity, pulls int64) Activity {
	next := obs
	next.PullCount = pulls
	if prev == nil {
		return next
	}
	next.LastPushedAt, next.PushSource = laterWithSource(prev.LastPushedAt, prev.PushSource, obs.LastPushedAt, obs.PushSource)
	next.LastPulledAt, next.PullSource = laterWithSource(prev.LastPulledAt, prev.PullSource, obs.LastPulledAt, obs.PullSource)
	next.LastDeletedAt = later(prev.LastDeletedAt, obs.LastDeletedAt)
	next.PullCount += prev.PullCount
	next.PullsCountedAt = prev.PullsCountedAt
	next.ScanClaimedOn, next.ScanClaimedBy, next.ScanClaimedAhead = prev.ScanClaimedOn, prev.ScanClaimedBy, prev.ScanClaimedAhead
	next.UntrackedAt = prev.UntrackedAt
	if next.Source == "" {
		next.Source = prev.Source
	}
	if next.Platforms == "" {
		next.Platforms = prev.Platforms
	}
	return next
}

// Claim is [Store.ClaimScanAs]'s rule applied to row a: the row claimed for
// claimant on day's UTC date, whether that needs a write, and whether the claim is
// claimant's (a claim of the day by someone else, or by nobody named, is not).
func (a Activity) Claim(day time.Time, claimant string) (next Activity, write, claimed bool) {
	date := day.UTC().Format(time.DateOnly)
	if a.ScanClaimedOn == date {
		// Already claimed; by this claimant when a retried write of its own claim
		// landed before the answer was lost.
		return a, false, claimant != "" && a.ScanClaimedBy == claimant
	}
	a.ScanClaimedOn, a.ScanClaimedBy, a.ScanClaimedAhead = date, claimant, false
	return a, true, true
}

// ClaimAhead is [Activity.Claim] for a claim written before its scan task is sent,
// in the write that records the push making the digest due (a digest a listing
// sees for the first time): one write instead of two. It is marked
// ScanClaimedAhead, so the claimant's redelivered message sends the scan again
// rather than count it sent.
func (a Activity) ClaimAhead(day time.Time, claimant string) (next Activity, claimed bool) {
	next, _, claimed = a.Claim(day, claimant)
	if claimed && next.ScanClaimedOn != a.ScanClaimedOn {
		next.ScanClaimedAhead = true
	}
	return next, claimed
}

// PutActivities writes activity rows of one repository in entity-group transactions
// of at most 100, whole rows (replace), each only if the stored row is still at its
// ETag (an empty ETag: only if it does not exist yet). A row changed or created
// meanwhile fails its transaction with ErrConflict; the caller re-reads
// (ListActivityRows) and merges again (earlier transactions stay written, and are what
// the re-read sees). It returns the ETag each row now has, in the order of acts, so
// that the next conditional write needs no read; nil when the service's answer did
// not say (the rows are written, their versions unknown).
func (s *Store) PutActivities(ctx context.Context, registry, repository string, acts []ActivityRow) ([]string, error) {
	actions := make([]tableAction, 0, len(acts))
	for _, a := range acts {
		a.Registry, a.Repository = registry, repository
		ta := tableAction{entity: a.Activity.entity(), action: aztables.TransactionTypeAdd}
		if a.ETag != "" {
			ta.action, ta.etag = aztables.TransactionTypeUpdateReplace, a.ETag
		}
		actions = append(actions, ta)
	}
	etags, err := submitActionsETags(ctx, s.activity, actions)
	if err != nil {
		return nil, fmt.Errorf("writing %d activity rows of %s/%s: %w", len(acts), registry, repository, err)
	}
	return etags, nil
}

// SetUntracked sets (at non-zero) or clears (zero) the digest's UntrackedAt and
// leaves the rest of its row alone; a digest without a row is left without one.
func (s *Store) SetUntracked(ctx context.Context, registry, repository, digest string, at time.Time) error {
	pk, rk := repoKey(registry, repository), EscapeKey(digest)
	err := readModifyWrite(ctx, s.activity, pk, rk, func(current row, exists bool) (entity, bool, error) {
		if !exists {
			return nil, false, nil
		}
		prev, err := activityFromRow(current)
		if err != nil {
			return nil, false, err
		}
		if prev.UntrackedAt.Equal(at) {
			return nil, false, nil
		}
		prev.UntrackedAt = at
		return prev.entity(), true, nil
	})
	if err != nil {
		return fmt.Errorf("marking %s/%s@%s untracked at %s: %w", registry, repository, digest, at, err)
	}
	return nil
}

// laterWithSource returns the later of two times with its source; b (the new
// observation) wins a tie so its source is recorded, and an empty source keeps a's.
func laterWithSource(a time.Time, aSource string, b time.Time, bSource string) (time.Time, string) {
	if b.IsZero() || b.Before(a) {
		return a, aSource
	}
	if bSource == "" {
		bSource = aSource
	}
	return b, bSource
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
