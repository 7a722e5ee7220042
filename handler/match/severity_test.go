package match_test

import (
	"errors"
	"testing"

	"github.com/tidewatch/tidewatch/handler/match"
)

func TestParseSeverity(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"critical", match.SeverityCritical}, {"High", match.SeverityHigh}, {" MEDIUM ", match.SeverityMedium},
		{"low", match.SeverityLow}, {"unknown", match.SeverityUnknown},
	} {
		t.Run("accepts "+tt.in, func(t *testing.T) {
			got, err := match.ParseSeverity(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseSeverity(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, in := range []string{"", "severe", "moderate!"} {
		t.Run("rejects "+in, func(t *testing.T) {
			if _, err := match.ParseSeverity(in); !errors.Is(err, match.ErrUnknownSeverity) {
				t.Errorf("ParseSeverity(%q) error = %v, want ErrUnknownSeverity", in, err)
			}
		})
	}
}

func TestSeverityAtLeast(t *testing.T) {
	order := []string{match.SeverityUnknown, match.SeverityLow, match.SeverityMedium, match.SeverityHigh, match.SeverityCritical}
	for i, s := range order {
		for j, min := range order {
			if got, want := match.SeverityAtLeast(s, min), i >= j; got != want {
				t.Errorf("SeverityAtLeast(%s, %s) = %v, want %v", s, min, got, want)
			}
		}
	}
}
