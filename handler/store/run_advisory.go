package store

import "time"

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
