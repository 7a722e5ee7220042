package match_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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

func TestSeveritiesAtLeast(t *testing.T) {
	for _, tt := range []struct {
		min  string
		want []string
	}{
		{"CRITICAL", []string{"CRITICAL"}},
		{"high", []string{"CRITICAL", "HIGH"}},
		{"Medium", []string{"CRITICAL", "HIGH", "MEDIUM"}},
		{"LOW", []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}},
		{"UNKNOWN", []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}},
		{"severe", nil},
	} {
		t.Run("at least "+tt.min+" is "+strings.Join(tt.want, ","), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, match.SeveritiesAtLeast(tt.min)); diff != "" {
				t.Errorf("SeveritiesAtLeast(%q) (-want +got):\n%s", tt.min, diff)
			}
		})
	}
	t.Run("results are copies the caller may change", func(t *testing.T) {
		match.SeveritiesAtLeast("HIGH")[0] = "changed"
		match.Severities()[1] = "changed"
		want := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
		if diff := cmp.Diff(want, match.Severities()); diff != "" {
			t.Errorf("Severities() after changing results (-want +got):\n%s", diff)
		}
	})
}
