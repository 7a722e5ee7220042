package store

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A run's summary row is kept incrementally: an invocation that records its row
// replaces the row's old contribution to the summary with its new one, in the same
// entity-group transaction (see [Store.RecordInvocation]). Counters are sums, so
// that is exact. The other columns are extremes, sets and lists; each has a rule
// (replace) that stays exact or says it cannot, and then the summary is recomputed
// from the rows.

// generationUseColumn is the summary column that makes Generation incremental.
const generationUseColumn = "GenerationUse"

// runSummary is a summary row with what keeping it incrementally needs besides Run.
type runSummary struct {
	run  Run
	gens generationUse
}

// generationUse is, per advisory generation, how many of a run's invocation rows used
// it and the earliest StartedAt among them: what ordering Generation by first use, and
// taking back a redelivered invocation's generation, need.
type generationUse map[string]generationFirstUse

type generationFirstUse struct {
	first time.Time
	rows  int
}

// summarizeState is the summary of run runID on date with the invocation rows deltas.
func summarizeState(date, runID string, deltas []RunDelta) runSummary {
	s := runSummary{run: Run{Date: date, ID: runID}, gens: generationUse{}}
	for _, d := range deltas {
		s.run = s.run.apply(d)
		s.gens.add(d)
	}
	s.run.Generation = s.gens.String()
	return s
}

// replace returns s with one invocation row's contribution changed from old (nil: the
// row is new) to next, or false when s does not hold enough to do that exactly. The
// rules, each exact under redelivery:
//   - counters (Repositories … Rescanned, RejectedRecords, Deliveries as the sum of
//     each row's highest dequeue count) are sums: subtract old, add next; Invocations
//     grows only for a new row;
//   - StartedAt, AdvisoryCheckedAt (earliest) and FinishedAt, AdvisoryAgeMinutes
//     (latest, largest) are extremes: taking old back is exact unless old was the
//     extreme and next does not reach it (a row's StartedAt only moves earlier, so for
//     StartedAt that never happens; DurationMs follows the two times);
//   - Failures is the multiset of the rows' failure lines in the order recorded: old's
//     line is removed (one occurrence) and next's appended; once the column is full it
//     keeps what it shows, a line not shown is not looked for;
//   - Folders is the set of the rows' Folders: a row may keep its value, not change it
//     (only an advisories tick has one);
//   - Generation comes from generationUse: rows per generation and the earliest
//     StartedAt of each; taking old back is exact unless old was that earliest and
//     others remain.
func (s runSummary) replace(old *RunDelta, next RunDelta) (runSummary, bool) {
	s.gens = maps.Clone(s.gens)
	if old != nil && !s.retract(*old, next) {
		return s, false
	}
	s.run = s.run.apply(next)
	s.gens.add(next)
	s.run.Generation = s.gens.String()
	return s, true
}

// retract takes old's contribution back from s in preparation for adding next (see
// replace); false when that cannot be done exactly.
func (s *runSummary) retract(old, next RunDelta) bool {
	r := &s.run
	r.Repositories -= old.Repositories
	r.Manifests -= old.Manifests
	r.Enqueued -= old.Enqueued
	r.Scanned -= old.Scanned
	r.Failed -= old.Failed
	r.Retried -= old.Retried
	r.Deferred -= old.Deferred
	r.Rematched -= old.Rematched
	r.RematchEnqueued -= old.RematchEnqueued
	r.Rescanned -= old.Rescanned
	r.RejectedRecords -= old.RejectedRecords
	r.Invocations--
	r.Deliveries -= max(old.Deliveries, 1)
	if old.Failure != "" {
		var ok bool
		if r.Failures, ok = removeFailure(r.Failures, old.Failure); !ok {
			return false
		}
	}
	if old.Folders != "" && old.Folders != next.Folders {
		return false
	}
	oldAge, oldHasAge := old.advisoryAge()
	newAge, newHasAge := next.advisoryAge()
	if oldHasAge && oldAge >= r.AdvisoryAgeMinutes && (!newHasAge || newAge < oldAge) {
		return false
	}
	return retractEarliest(r.StartedAt, old.StartedAt, next.StartedAt) &&
		retractEarliest(r.AdvisoryCheckedAt, old.AdvisoryCheckedAt, next.AdvisoryCheckedAt) &&
		retractLatest(r.FinishedAt, old.FinishedAt, next.FinishedAt) &&
		s.gens.remove(old, next)
}

// retractEarliest reports whether the earliest of a set of times (zero: absent) stays
// known when old leaves it and next joins: old was absent or later than the earliest,
// or next is no later than old.
func retractEarliest(earliest, old, next time.Time) bool {
	return old.IsZero() || old.After(earliest) || (!next.IsZero() && !next.After(old))
}

// retractLatest is retractEarliest for the latest of a set of times.
func retractLatest(latest, old, next time.Time) bool {
	return old.IsZero() || old.Before(latest) || !next.Before(old)
}

// removeFailure removes one occurrence of failure's line from failures; false when it
// is not there although the column is not full (then the summary does not match its
// rows).
func removeFailure(failures, failure string) (string, bool) {
	line := strings.ReplaceAll(failure, "\n", " ")
	lines := strings.Split(failures, "\n")
	if i := slices.Index(lines, line); i >= 0 {
		return strings.Join(slices.Delete(lines, i, i+1), "\n"), true
	}
	return failures, strings.Contains(failures, TruncatedMarker)
}

// add counts d's generation, if any.
func (g generationUse) add(d RunDelta) {
	if d.Generation == "" {
		return
	}
	u, seen := g[d.Generation]
	if !seen || d.StartedAt.Before(u.first) {
		u.first = d.StartedAt
	}
	u.rows++
	g[d.Generation] = u
}

// remove takes back old's generation before next is added; false when old was its
// generation's earliest use, others remain and next does not take its place.
func (g generationUse) remove(old, next RunDelta) bool {
	if old.Generation == "" {
		return true
	}
	u, seen := g[old.Generation]
	if !seen {
		return false
	}
	u.rows--
	switch {
	case u.rows <= 0:
		delete(g, old.Generation)
		return true
	case old.StartedAt.After(u.first), next.Generation == old.Generation && !next.StartedAt.After(old.StartedAt):
		g[old.Generation] = u
		return true
	}
	return false
}

// String is the Generation column: the generations in the order first used, at most
// maxGenerationsListed then a count.
func (g generationUse) String() string {
	gens := slices.Collect(maps.Keys(g))
	slices.SortFunc(gens, func(a, b string) int {
		return cmp.Or(g[a].first.Compare(g[b].first), strings.Compare(a, b))
	})
	if len(gens) > maxGenerationsListed {
		more := len(gens) - maxGenerationsListed
		gens = append(gens[:maxGenerationsListed], fmt.Sprintf("… and %d more", more))
	}
	return strings.Join(gens, ", ")
}

// encode is the GenerationUse column: one line per generation, "<rows> <first use,
// RFC 3339 or -> <generation>", sorted by generation.
func (g generationUse) encode() string {
	lines := make([]string, 0, len(g))
	for _, gen := range slices.Sorted(maps.Keys(g)) {
		u := g[gen]
		first := "-"
		if !u.first.IsZero() {
			first = u.first.UTC().Format(time.RFC3339Nano)
		}
		lines = append(lines, strconv.Itoa(u.rows)+" "+first+" "+gen)
	}
	return strings.Join(lines, "\n")
}

// decodeGenerationUse reads a GenerationUse column written by encode.
func decodeGenerationUse(s string) (generationUse, error) {
	g := generationUse{}
	if s == "" {
		return g, nil
	}
	for line := range strings.SplitSeq(s, "\n") {
		fields := strings.SplitN(line, " ", 3)
		if len(fields) != 3 || fields[2] == "" {
			return nil, fmt.Errorf("generation use line %q: want \"<rows> <first use> <generation>\"", line)
		}
		rows, err := strconv.Atoi(fields[0])
		if err != nil || rows < 1 {
			return nil, fmt.Errorf("generation use line %q: bad row count", line)
		}
		var first time.Time
		if fields[1] != "-" {
			if first, err = time.Parse(time.RFC3339Nano, fields[1]); err != nil {
				return nil, fmt.Errorf("generation use line %q: %w", line, err)
			}
		}
		g[fields[2]] = generationFirstUse{first: first.UTC(), rows: rows}
	}
	return g, nil
}

// entity is the summary row.
func (s runSummary) entity() entity {
	e := s.run.entity()
	e.setString(generationUseColumn, s.gens.encode())
	return e
}

// summaryFromRow reads a summary row; complete is false when it lacks what keeping
// it incrementally needs (a summary written before GenerationUse existed, or one whose
// column was truncated): it must be recomputed from the rows.
func summaryFromRow(r row) (s runSummary, complete bool, err error) {
	if s.run, err = runFromRow(r); err != nil {
		return runSummary{}, false, err
	}
	if _, ok := r.props[generationUseColumn]; !ok {
		return s, false, nil
	}
	gens, err := decodeGenerationUse(r.str(generationUseColumn))
	if err != nil {
		return s, false, nil
	}
	s.gens = gens
	return s, true, nil
}
