package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The advisory columns of runs rows: which generation the invocations matched
// against and how old it was.

// advisoryAge is how old the invocation's advisory data was when it started, in
// whole minutes; false when either time is unknown.
func (d RunDelta) advisoryAge() (int, bool) {
	if d.AdvisoryCheckedAt.IsZero() || d.StartedAt.IsZero() {
		return 0, false
	}
	return max(int(d.StartedAt.Sub(d.AdvisoryCheckedAt)/time.Minute), 0), true
}

// maxGenerationsListed bounds the Generation column of a summary.
const maxGenerationsListed = 4

// generationsUsed lists the distinct generations of deltas in the order they were
// first used (earliest StartedAt), at most maxGenerationsListed then a count.
func generationsUsed(deltas []RunDelta) string {
	first := map[string]time.Time{}
	for _, d := range deltas {
		if t, seen := first[d.Generation]; d.Generation != "" && (!seen || d.StartedAt.Before(t)) {
			first[d.Generation] = d.StartedAt
		}
	}
	gens := make([]string, 0, len(first))
	for g := range first {
		gens = append(gens, g)
	}
	slices.SortFunc(gens, func(a, b string) int {
		return cmp.Or(first[a].Compare(first[b]), strings.Compare(a, b))
	})
	if len(gens) > maxGenerationsListed {
		more := len(gens) - maxGenerationsListed
		gens = append(gens[:maxGenerationsListed], fmt.Sprintf("… and %d more", more))
	}
	return strings.Join(gens, ", ")
}
