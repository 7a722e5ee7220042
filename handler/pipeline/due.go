package pipeline

import (
	"sort"
	"time"

	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// rescanAfter is how old a scan may get before an image in the window is due again.
const rescanAfter = 24 * time.Hour

// dueForScan decides whether digest needs a scan now, and why (see [scanDue]), from
// its activity row as the list task knows it; a digest without one has no activity
// and is not due. images are its rows. mine reports that claimant already claimed
// (and so enqueued) it today.
func (p *Pipeline) dueForScan(acts *repoActivity, task store.ListTask, digest string, images []store.Image, claimant string, now time.Time) (reason string, due, mine bool) {
	act, ok := acts.get(digest)
	if !ok {
		return "", false, false
	}
	return scanDue(act, task.Window, images, p.currentGeneration(), claimant, now)
}

// reasonRematch is scanDue's reason for a digest that only needs its stored
// inventories matched again (a rematch task, not a scan).
const reasonRematch = "rematch"

// scanDue is the rule: a digest not claimed today is due when it is in the push or
// pull window and never scanned, not settled (scanned, incomplete or unsupported),
// failed since its last good scan, matched more than a day ago, or matched with an
// advisory generation other than generation ("" before the first load: not judged).
// The reason is "push", "pull" (never scanned), "rescan", or [reasonRematch] when only
// age or generation made it due and every row has an inventory stored by the current
// analyzer version: it is re-matched, never pulled again. mine reports that the day's
// claim is claimant's own. A claim of claimant's made ahead of its send
// (store.Activity.ScanClaimedAhead) is judged as if unclaimed: due, it is sent again
// (the claimant cannot tell whether its earlier delivery sent it), and the claim
// stands.
func scanDue(act store.Activity, window store.Window, images []store.Image, generation, claimant string, now time.Time) (reason string, due, mine bool) {
	if act.ScanClaimedOn == now.UTC().Format(time.DateOnly) {
		mine = claimant != "" && act.ScanClaimedBy == claimant
		if !mine || !act.ScanClaimedAhead {
			return "", false, mine // already enqueued today
		}
		act.ScanClaimedOn, act.ScanClaimedBy, act.ScanClaimedAhead = "", "", false
		reason, due, _ = scanDue(act, window, images, generation, "", now)
		return reason, due, true
	}
	pushed := !act.LastPushedAt.IsZero() && now.Sub(act.LastPushedAt) <= days(window.PushDays)
	pulled := !act.LastPulledAt.IsZero() && now.Sub(act.LastPulledAt) <= days(window.PullDays)
	if !pushed && !pulled {
		return "", false, false
	}
	reason = "push"
	if !pushed {
		reason = "pull"
	}
	if len(images) == 0 {
		return reason, true, false
	}
	stale := false
	for _, img := range images {
		switch img.Status {
		case scanner.StatusScanned, scanner.StatusIncomplete, scanner.StatusUnsupported:
		default:
			return "rescan", true, false
		}
		if img.LastErrorAt.After(img.LastScannedAt) {
			return "rescan", true, false
		}
		matched := img.LastScannedAt
		if img.LastMatchedAt.After(matched) {
			matched = img.LastMatchedAt
		}
		if now.Sub(matched) > rescanAfter || (generation != "" && img.Generation != generation) {
			stale = true
		}
	}
	switch {
	case !stale:
		return "", false, false
	case inventoriesCurrent(images):
		return reasonRematch, true, false
	}
	return "rescan", true, false
}

// inventoriesCurrent reports whether every row of a digest can be re-matched from
// its stored inventory (see inventoryCurrent).
func inventoriesCurrent(images []store.Image) bool {
	for _, img := range images {
		if !inventoryCurrent(img) {
			return false
		}
	}
	return len(images) > 0
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
