package cli

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBillingByFunction(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	span := func(function string, from, to int) invocationSpan { return invocationSpan{function, at(from), at(to)} }
	tests := []struct {
		name  string
		spans []invocationSpan
		want  []functionBilling
	}{
		{
			name:  "one short execution is billed the one-second minimum",
			spans: []invocationSpan{span("sweep", 0, 120)},
			want:  []functionBilling{{function: "sweep", invocations: 1, busy: 120 * time.Millisecond, active: 120 * time.Millisecond, periods: 1, billed: time.Second}},
		},
		{
			name:  "a period past a second is rounded up to the next 100 ms",
			spans: []invocationSpan{span("scan", 0, 2301)},
			want:  []functionBilling{{function: "scan", invocations: 1, busy: 2301 * time.Millisecond, active: 2301 * time.Millisecond, periods: 1, billed: 2400 * time.Millisecond}},
		},
		{
			name: "overlapping executions are billed once for the time the instance was executing",
			spans: []invocationSpan{
				span("scan", 0, 3000), span("scan", 500, 2000), span("scan", 2500, 4000), span("scan", 1000, 1500),
			},
			want: []functionBilling{{function: "scan", invocations: 4, busy: 6500 * time.Millisecond, active: 4 * time.Second, periods: 1, billed: 4 * time.Second}},
		},
		{
			name:  "an execution starting as another ends continues its period",
			spans: []invocationSpan{span("listrepo", 1000, 1700), span("listrepo", 0, 1000)},
			want:  []functionBilling{{function: "listrepo", invocations: 2, busy: 1700 * time.Millisecond, active: 1700 * time.Millisecond, periods: 1, billed: 1700 * time.Millisecond}},
		},
		{
			name:  "separate periods are each billed at least a second",
			spans: []invocationSpan{span("rematch", 0, 200), span("rematch", 5000, 5300), span("rematch", 9000, 10550)},
			want:  []functionBilling{{function: "rematch", invocations: 3, busy: 2050 * time.Millisecond, active: 2050 * time.Millisecond, periods: 3, billed: 3600 * time.Millisecond}},
		},
		{
			name:  "functions are accounted apart and listed by name, as Flex scales each on its own instances",
			spans: []invocationSpan{span("sweep", 0, 400), span("listrepo", 100, 1300), span("listrepo", 200, 900)},
			want: []functionBilling{
				{function: "listrepo", invocations: 2, busy: 1900 * time.Millisecond, active: 1200 * time.Millisecond, periods: 1, billed: 1200 * time.Millisecond},
				{function: "sweep", invocations: 1, busy: 400 * time.Millisecond, active: 400 * time.Millisecond, periods: 1, billed: time.Second},
			},
		},
		{
			name: "no invocations bill nothing",
			want: []functionBilling{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := billingByFunction(tt.spans)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(functionBilling{})); diff != "" {
				t.Errorf("billingByFunction (-want +got):\n%s", diff)
			}
		})
	}
}
