package lifecycle

import (
	"time"

	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/store"
)

// States of a finding row.
const (
	StateActive   = "active"
	StateResolved = "resolved"
)

// Reasons a finding was resolved.
const (
	ReasonFixed     = "fixed"
	ReasonRescan    = "rescan"
	ReasonAdvisory  = "advisory"
	ReasonUntracked = "untracked"
	ReasonDeleted   = "deleted"
)

// applyResult decides the rows of one (repository, digest) after a new result:
// every finding of result is active (reactivated if it was resolved, FirstSeenAt
// kept from its row, LastSeenAt now); every active row absent from result resolves
// with reason. It returns the rows to write and every row after the change.
func applyResult(existing, result []store.Finding, reason string, now time.Time) (changed, after []store.Finding) {
	old := make(map[string]store.Finding, len(existing))
	for _, f := range existing {
		old[f.RowKey()] = f
	}
	seen := make(map[string]bool, len(result))
	for _, f := range result {
		key := f.RowKey()
		if seen[key] {
			continue // one row per identity; the first occurrence wins
		}
		seen[key] = true
		f.State, f.ResolvedReason, f.ResolvedAt, f.ResolvedByDigest, f.ResolvedByGeneration = StateActive, "", time.Time{}, "", ""
		f.FirstSeenAt, f.LastSeenAt = now, now
		if prev, ok := old[key]; ok && !prev.FirstSeenAt.IsZero() {
			f.FirstSeenAt = prev.FirstSeenAt
		}
		changed = append(changed, f)
	}
	after = append(after, changed...)
	for _, f := range existing {
		if seen[f.RowKey()] {
			continue
		}
		if f.State == StateActive {
			f = resolved(f, reason, "", now)
			changed = append(changed, f)
		}
		after = append(after, f)
	}
	return changed, after
}

// resolveActive resolves every active row for which decide returns ok, with the
// reason and resolving digest it returns. Resolved rows are left as they are, so a
// repeated call changes nothing and keeps the first ResolvedAt.
func resolveActive(existing []store.Finding, decide func(store.Finding) (reason, by string, ok bool), now time.Time) (changed, after []store.Finding) {
	after = make([]store.Finding, 0, len(existing))
	for _, f := range existing {
		if f.State == StateActive {
			if reason, by, ok := decide(f); ok {
				f = resolved(f, reason, by, now)
				changed = append(changed, f)
			}
		}
		after = append(after, f)
	}
	return changed, after
}

// reactivateUntracked makes active again the rows resolved because their digest was
// no longer tagged; rows resolved by a rescan or rematch stay as they are.
func reactivateUntracked(existing []store.Finding) (changed, after []store.Finding) {
	after = make([]store.Finding, 0, len(existing))
	for _, f := range existing {
		if f.State == StateResolved {
			switch f.ResolvedReason {
			case ReasonFixed, ReasonUntracked, ReasonDeleted:
				f.State, f.ResolvedReason, f.ResolvedAt, f.ResolvedByDigest, f.ResolvedByGeneration = StateActive, "", time.Time{}, "", ""
				changed = append(changed, f)
			}
		}
		after = append(after, f)
	}
	return changed, after
}

func resolved(f store.Finding, reason, by string, now time.Time) store.Finding {
	f.State, f.ResolvedReason, f.ResolvedAt, f.ResolvedByDigest = StateResolved, reason, now, by
	return f
}

// countActive returns the counts of the active rows among rows, the counts an images
// row must show.
func countActive(rows []store.Finding) store.Counts {
	var c store.Counts
	for _, f := range rows {
		if f.State != StateActive {
			continue
		}
		switch f.Severity {
		case match.SeverityCritical:
			c.Critical++
		case match.SeverityHigh:
			c.High++
		case match.SeverityMedium:
			c.Medium++
		case match.SeverityLow:
			c.Low++
		default:
			c.Unknown++
		}
		if f.FixStatus == match.FixStatusFixed {
			c.FixableCount++
		}
	}
	return c
}

// activeKeys returns the RowKeys of the active rows.
func activeKeys(rows []store.Finding) map[string]bool {
	keys := make(map[string]bool, len(rows))
	for _, f := range rows {
		if f.State == StateActive {
			keys[f.RowKey()] = true
		}
	}
	return keys
}
