package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestImageRoundTrip(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	full := Image{
		Registry: "contoso.azurecr.io", Repository: "team/api", Digest: "sha256:1111",
		Tags: []string{"1.2", "latest"}, IndexDigest: "sha256:9999", Platform: "linux/arm64/v8",
		OS: "debian", OSVersion: "12",
		PushedAt:      time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		LastPulledAt:  time.Date(2025, 3, 2, 11, 30, 0, 123000000, time.UTC),
		LastScannedAt: time.Date(2025, 3, 3, 12, 0, 0, 0, time.FixedZone("CET", 3600)).UTC(),
		Generation:    "20250303T120000Z",
		Critical:      1, High: 2, Medium: 3, Low: 4, Unknown: 5, FixableCount: 6,
		Status: StatusScanned, InventoryRef: "inventories/sha256:1111.json.gz",
	}
	tests := []struct {
		name string
		img  Image
	}{
		{"a fully populated scanned image comes back unchanged", full},
		{"a failed image with no times and no tags comes back unchanged", Image{
			Registry: "r.example", Repository: "x", Digest: "sha256:2222", Status: StatusFailed, Error: "advisory index is stale"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.PutImage(ctx, tt.img); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetImage(ctx, tt.img.Registry, tt.img.Repository, tt.img.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.img, got); diff != "" {
				t.Errorf("image (-put +got):\n%s", diff)
			}
		})
	}

	t.Run("a missing image is ErrNotFound", func(t *testing.T) {
		_, err := s.GetImage(ctx, "r.example", "x", "sha256:none")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("a repository's images are listed and paged by partition", func(t *testing.T) {
		for _, d := range []string{"sha256:a1", "sha256:a2", "sha256:a3"} {
			if err := s.PutImage(ctx, Image{Registry: "p.example", Repository: "paged", Digest: d, Status: StatusScanned}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.ListImages(ctx, "p.example", "paged")
		if err != nil || len(all) != 3 {
			t.Fatalf("ListImages = %d images, %v; want 3", len(all), err)
		}
		parts, err := s.ListImagePartitions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantParts := []string{EscapeKey("contoso.azurecr.io/team/api"), EscapeKey("p.example/paged"), EscapeKey("r.example/x")}
		if diff := cmp.Diff(wantParts, parts); diff != "" {
			t.Errorf("partitions (-want +got):\n%s", diff)
		}
		var digests []string
		cont := ""
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("paging does not end")
			}
			page, next, err := s.ListImagesPage(ctx, EscapeKey("p.example/paged"), cont, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range page {
				digests = append(digests, img.Digest)
			}
			if next == "" {
				break
			}
			cont = next
		}
		if diff := cmp.Diff([]string{"sha256:a1", "sha256:a2", "sha256:a3"}, digests); diff != "" {
			t.Errorf("paged digests (-want +got):\n%s", diff)
		}
	})
}
