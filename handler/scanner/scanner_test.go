package scanner_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

func TestNewRefusesToScanWithoutAdvisories(t *testing.T) {
	if _, err := scanner.New(nil); !errors.Is(err, advisory.ErrNoAdvisories) {
		t.Fatalf("New(nil) = %v, want ErrNoAdvisories", err)
	}
}

func TestScanStatusPerPlatform(t *testing.T) {
	ctx := context.Background()
	idx, err := advisory.Load(ctx, testenv.Advisories(t), []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image      string
		wantStatus string
		wantError  string // substring of PlatformResult.Error
	}{
		{"debian12-minbase", scanner.StatusScanned, ""},
		{"alpine-3.4", scanner.StatusUnsupported, "Alpine:v3.4: 11 packages not matched: no advisories loaded for it"},
		{"go-app", scanner.StatusUnsupported, "no os-release"},
	}
	for _, tt := range tests {
		t.Run(tt.image+" is "+tt.wantStatus, func(t *testing.T) {
			target, err := image.FromArchive(testenv.Image(t, tt.image))
			if err != nil {
				t.Fatal(err)
			}
			s, err := scanner.New(idx)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Scan(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Platforms {
				if p.Status != tt.wantStatus {
					t.Errorf("%s: status %q, want %q", p.Platform, p.Status, tt.wantStatus)
				}
				if !strings.Contains(p.Error, tt.wantError) {
					t.Errorf("%s: error %q, want it to mention %q", p.Platform, p.Error, tt.wantError)
				}
				if tt.wantStatus != scanner.StatusScanned && len(p.Findings) != 0 {
					t.Errorf("%s: %d findings on an unmatched platform", p.Platform, len(p.Findings))
				}
				if p.Inventory == nil {
					t.Errorf("%s: no inventory kept for storage", p.Platform)
				}
			}
		})
	}
}
