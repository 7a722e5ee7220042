package store

import (
	"context"
	"testing"
	"time"
)

func TestClaimScanAs(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	day := time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)
	for _, st := range []struct {
		name     string
		claimant string
		want     bool
	}{
		{"the first claimant of the day wins", "message-a", true},
		{"the same claimant asking again, as a retried write would, still holds it", "message-a", true},
		{"another claimant the same day does not", "message-b", false},
		{"an anonymous claimant does not", "", false},
	} {
		t.Run(st.name, func(t *testing.T) {
			got, err := s.ClaimScanAs(ctx, "r.example", "app", "sha256:e", day, st.claimant)
			if err != nil {
				t.Fatal(err)
			}
			if got != st.want {
				t.Errorf("ClaimScanAs(%q) = %v, want %v", st.claimant, got, st.want)
			}
		})
	}
	act, err := s.GetActivity(ctx, "r.example", "app", "sha256:e")
	if err != nil {
		t.Fatal(err)
	}
	if act.ScanClaimedOn != "2025-04-01" || act.ScanClaimedBy != "message-a" {
		t.Errorf("activity claim = %q by %q, want 2025-04-01 by message-a", act.ScanClaimedOn, act.ScanClaimedBy)
	}
}
