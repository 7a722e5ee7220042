package store

import (
	"context"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestLimitString(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		truncated bool
	}{
		{"a short string is unchanged", "short", false},
		{"exactly the limit is unchanged", strings.Repeat("a", maxPropertyUnits), false},
		{"one unit over the limit is truncated", strings.Repeat("a", maxPropertyUnits+1), true},
		{"astral characters count as two UTF-16 units", strings.Repeat("😀", maxPropertyUnits/2+1), true},
		{"half as many astral characters fit", strings.Repeat("😀", maxPropertyUnits/2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := limitString(tt.in)
			units := len(utf16.Encode([]rune(got)))
			if units > maxPropertyUnits {
				t.Fatalf("result has %d UTF-16 units, limit %d", units, maxPropertyUnits)
			}
			if tt.truncated != strings.Contains(got, TruncatedMarker) {
				t.Fatalf("marker present = %v, want %v", !tt.truncated, tt.truncated)
			}
			if !tt.truncated && got != tt.in {
				t.Fatal("an in-limit string was changed")
			}
			if tt.truncated && !strings.HasPrefix(tt.in, got[:strings.Index(got, TruncatedMarker)]) {
				t.Fatal("truncated value is not a prefix of the original")
			}
		})
	}
}

func TestOversizedColumnsAreStoredTruncatedWithAMarker(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	// ASCII on purpose: Azurite garbles a multi-byte character split across its
	// 64 KiB request chunks; UTF-16 counting is covered by TestLimitString.
	huge := strings.Repeat("x", 100_000) // 200 KB as UTF-16: over the 64 KB property limit
	img := Image{Registry: "r.example", Repository: "big", Digest: "sha256:big", Status: "failed", Error: huge}
	for _, tag := range []string{"a", "b"} {
		img.Tags = append(img.Tags, strings.Repeat(tag, 40_000))
	}
	if err := s.PutImage(ctx, img); err != nil {
		t.Fatalf("the service rejected an oversized entity: %v", err)
	}
	got, err := s.GetImage(ctx, img.Registry, img.Repository, img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(got.Error, TruncatedMarker+": ")
	if cut < 0 || !strings.HasPrefix(huge, got.Error[:cut]) {
		t.Errorf("Error column is %d bytes without a clear truncation marker: ...%q", len(got.Error), got.Error[len(got.Error)-80:])
	}
	if !strings.Contains(strings.Join(got.Tags, ","), TruncatedMarker) {
		t.Error("Tags column was not marked as truncated")
	}
}

func TestFitEntityKeepsTheWholeEntityUnderTheLimit(t *testing.T) {
	e := newEntity("pk", "rk")
	for _, name := range []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R"} {
		e.setString(name, strings.Repeat("x", 40_000))
	}
	fitEntity(e)
	total := 0
	for name, v := range e {
		if s, ok := v.(string); ok {
			total += 2*len(utf16.Encode([]rune(s))) + 2*len(name)
		}
	}
	if total > maxEntityBytes {
		t.Errorf("entity strings take %d bytes, limit %d", total, maxEntityBytes)
	}
}
