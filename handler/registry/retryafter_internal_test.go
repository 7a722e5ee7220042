package registry

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"delay-seconds", "3", 3 * time.Second, true},
		{"zero seconds means retry now", "0", 0, true},
		{"an IMF-fixdate 90 s ahead", "Fri, 01 May 2026 12:01:30 GMT", 90 * time.Second, true},
		{"an obsolete RFC 850 date", "Friday, 01-May-26 12:00:10 GMT", 10 * time.Second, true},
		{"a date in the past means now", "Fri, 01 May 2026 11:00:00 GMT", 0, true},
		{"an absurd delay is clamped to a day", "99999999999999", 24 * time.Hour, true},
		{"a negative delay is ignored", "-5", 0, false},
		{"garbage is ignored", "soon", 0, false},
		{"absent is ignored", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
