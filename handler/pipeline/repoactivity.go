package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/tidewatch/tidewatch/handler/store"
)

// repoActivity is a repository's activity rows as one list task knows them: read
// with one query of the partition, then kept up to date with what the task wrote.
// Writes go out in entity-group transactions (up to 100 rows each), every row
// conditional on the version read, so a racing writer (a pull, an event, another
// lister) is never overwritten: its conflict re-reads the partition and merges again.
type repoActivity struct {
	registry, repository string
	rows                 map[string]store.ActivityRow // digest → row
	// assumedNew is true while rows were not read because the sweep found the
	// repository without any (see store.ListTask.RepositoryNew): a write that then
	// conflicts is errNotNew, and the listing starts again with a read.
	assumedNew bool
	// versioned is true while the ETags in rows are the stored rows' (read, or
	// answered by the last write); a write needs them, so one after a write whose
	// versions are unknown (failed, or an answer without them) re-reads first.
	versioned bool
	// claimedAhead holds the digests whose day's scan this delivery claimed in the
	// write recording their push (store.Activity.ClaimAhead): due, and to be sent now.
	claimedAhead map[string]bool
}

// errNotNew reports that a repository listed as new has activity rows after all.
var errNotNew = errors.New("the repository listed as new has activity rows")

// readActivity reads task's repository's activity rows (one partition query), or,
// for a repository the sweep found without any (task.RepositoryNew), takes it as
// having none, unread.
func (p *Pipeline) readActivity(ctx context.Context, task store.ListTask) (*repoActivity, error) {
	ra := &repoActivity{registry: task.Registry, repository: task.Repository}
	if task.RepositoryNew {
		ra.rows, ra.versioned, ra.assumedNew = map[string]store.ActivityRow{}, true, true
		return ra, nil
	}
	if err := ra.read(ctx, p.activity); err != nil {
		return nil, err
	}
	return ra, nil
}

func (ra *repoActivity) read(ctx context.Context, log activityLog) error {
	rows, err := log.ListActivityRows(ctx, ra.registry, ra.repository)
	if err != nil {
		return err
	}
	ra.rows = make(map[string]store.ActivityRow, len(rows))
	for _, r := range rows {
		ra.rows[r.Digest] = r
	}
	ra.versioned = true
	return nil
}

// get returns digest's row as last read or written, and whether it has one.
func (ra *repoActivity) get(digest string) (store.Activity, bool) {
	r, ok := ra.rows[digest]
	return r.Activity, ok
}

// all returns every row, in digest order.
func (ra *repoActivity) all() []store.Activity {
	out := make([]store.Activity, 0, len(ra.rows))
	for _, r := range ra.rows {
		out = append(out, r.Activity)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}

// activityChange makes a digest's next row from its current one (exists false: none
// yet; prev then names only the digest) and says whether it needs writing.
type activityChange func(prev store.Activity, exists bool) (next store.Activity, write bool)

// update applies change to each of digests and writes the rows that change, in
// batches conditional on the versions read. A conflict (a racing writer) re-reads the
// partition and applies change again to what it holds, up to maxActivityAttempts
// times; change must therefore be repeatable (a merge, a claim), and may be called
// more than once per digest.
func (ra *repoActivity) update(ctx context.Context, log activityLog, digests []string, change activityChange) error {
	if len(digests) == 0 {
		return nil
	}
	for attempt := 1; ; attempt++ {
		if !ra.versioned {
			if err := ra.read(ctx, log); err != nil {
				return err
			}
		}
		var writes []store.ActivityRow
		for _, digest := range digests {
			prev, exists := ra.rows[digest]
			if !exists {
				prev.Activity = store.Activity{Registry: ra.registry, Repository: ra.repository, Digest: digest}
			}
			next, write := change(prev.Activity, exists)
			if write {
				next.Registry, next.Repository, next.Digest = ra.registry, ra.repository, digest
				writes = append(writes, store.ActivityRow{Activity: next, ETag: prev.ETag})
			}
		}
		if len(writes) == 0 {
			return nil
		}
		etags, err := log.PutActivities(ctx, ra.registry, ra.repository, writes)
		if err == nil {
			ra.assumedNew = false // its rows are the ones written: a conflict now is a race
			// The rows now have the versions the service answered: the next write is
			// conditional on them without a read (unless the answer did not say).
			ra.versioned = len(etags) == len(writes)
			for i, w := range writes {
				next := store.ActivityRow{Activity: w.Activity}
				if ra.versioned {
					next.ETag = etags[i]
				}
				ra.rows[w.Digest] = next
			}
			return nil
		}
		ra.versioned = false // maybe written: the ETags are stale either way
		if errors.Is(err, store.ErrConflict) && ra.assumedNew {
			return fmt.Errorf("writing activity of %s/%s: %w: %w", ra.registry, ra.repository, errNotNew, err)
		}
		if !errors.Is(err, store.ErrConflict) || attempt == maxActivityAttempts {
			return fmt.Errorf("writing activity of %s/%s: %w", ra.registry, ra.repository, err)
		}
	}
}

// maxActivityAttempts bounds re-reads of a repository's activity when racing writers
// keep changing it; more than this goes back to the queue.
const maxActivityAttempts = 8
