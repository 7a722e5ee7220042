package cli

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// invocationSpan is when one invocation of a function ran, as tidewatch run saw it.
type invocationSpan struct {
	function   string
	start, end time.Time
}

// functionBilling is what a run's invocations of one function add up to under the
// Flex Consumption on-demand meter, which bills "the total amount of memory
// provisioned while each on demand instance is actively executing functions": an
// instance running several executions at once is billed once for that time, and
// each activity period is billed at least 1,000 ms, then rounded up to 100 ms.
type functionBilling struct {
	function    string
	invocations int
	// busy is the summed duration of the invocations (every execution billed alone).
	busy time.Duration
	// active is the time at least one invocation was running, and periods how many
	// separate stretches it came in (one instance running them all).
	active  time.Duration
	periods int
	// billed is active with each period rounded as the meter rounds it.
	billed time.Duration
}

// Billing granularity of the Flex Consumption on-demand meter.
const (
	minBilledPeriod = time.Second
	billedRounding  = 100 * time.Millisecond
)

// billingByFunction groups spans by function (Flex scales each queue- or
// timer-triggered function on its own instances) and accounts each group as one
// instance would be billed for it. Functions come out sorted by name.
func billingByFunction(spans []invocationSpan) []functionBilling {
	byFunction := map[string][]invocationSpan{}
	for _, s := range spans {
		byFunction[s.function] = append(byFunction[s.function], s)
	}
	out := make([]functionBilling, 0, len(byFunction))
	for function, group := range byFunction {
		b := functionBilling{function: function, invocations: len(group)}
		for _, s := range group {
			b.busy += s.end.Sub(s.start)
		}
		for _, p := range activePeriods(group) {
			b.active += p
			b.periods++
			b.billed += billedPeriod(p)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].function < out[j].function })
	return out
}

// activePeriods merges spans into the maximal stretches in which at least one of them
// was running and returns their lengths in time order.
func activePeriods(spans []invocationSpan) []time.Duration {
	sorted := append([]invocationSpan(nil), spans...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].start.Before(sorted[j].start) })
	var periods []time.Duration
	var start, end time.Time
	for i, s := range sorted {
		if i > 0 && !s.start.After(end) {
			if s.end.After(end) {
				end = s.end
			}
			continue
		}
		if i > 0 {
			periods = append(periods, end.Sub(start))
		}
		start, end = s.start, s.end
	}
	if len(sorted) > 0 {
		periods = append(periods, end.Sub(start))
	}
	return periods
}

// billedPeriod is an activity period as the meter bills it: at least a second, else
// rounded up to the next 100 ms.
func billedPeriod(d time.Duration) time.Duration {
	if d < minBilledPeriod {
		return minBilledPeriod
	}
	return (d + billedRounding - 1).Truncate(billedRounding)
}

// printBilling writes one line per function of what its invocations come to; the
// format is read by scripts/cost.sh.
func printBilling(w io.Writer, spans []invocationSpan, parallel int) {
	for _, b := range billingByFunction(spans) {
		fmt.Fprintf(w, "run: function %s: %d invocations, busy %.3fs, active %.3fs in %d periods, billed %.1fs (up to %d at once)\n",
			b.function, b.invocations, b.busy.Seconds(), b.active.Seconds(), b.periods, b.billed.Seconds(), parallel)
	}
}
