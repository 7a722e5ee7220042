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
		OS: "debian", OSVersion: "12", AdvisorySource: "Debian",
		PushedAt:      time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		LastPulledAt:  time.Date(2025, 3, 2, 11, 30, 0, 123000000, time.UTC),
		LastScannedAt: time.Date(2025, 3, 3, 12, 0, 0, 0, time.FixedZone("CET", 3600)).UTC(),
		Generation:    "20250303T120000Z",
		Counts:        Counts{Critical: 1, High: 2, Medium: 3, Low: 4, Unknown: 5, FixableCount: 6},
		Status:        "scanned", InventoryRef: "inventories/sha256:1111.json.gz",
	}
	tests := []struct {
		name string
		img  Image
	}{
		{"a fully populated scanned image comes back unchanged", full},
		{"a failed image with no times and no tags comes back unchanged", Image{
			Registry: "r.example", Repository: "x", Digest: "sha256:2222", Status: "failed", Error: "advisory index is stale",
			LastError: "advisory index is stale", LastErrorAt: time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)}},
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
			if err := s.PutImage(ctx, Image{Registry: "p.example", Repository: "paged", Digest: d, Status: "scanned"}); err != nil {
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

	t.Run("pages after a cursor cross partitions and visit every row once in key order", func(t *testing.T) {
		var want []string
		parts, err := s.ListImagePartitions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, pk := range parts {
			rows, _, err := s.ListImagesPage(ctx, pk, "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range rows {
				want = append(want, img.Registry+"/"+img.Repository+"@"+img.Digest)
			}
		}
		if len(want) < 5 {
			t.Fatalf("only %d rows to page over; the test needs rows in several partitions", len(want))
		}
		var got []string
		var cursor ImageCursor
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatal("paging does not end")
			}
			page, last, done, err := s.ListImagesAfter(ctx, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("page of %d rows, limit 2", len(page))
			}
			for _, img := range page {
				got = append(got, img.Registry+"/"+img.Repository+"@"+img.Digest)
			}
			if done {
				break
			}
			cursor = last
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("rows paged with a cursor (-want +got):\n%s", diff)
		}
	})
}

func TestImageColumnUpdates(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const reg, repo = "r.example", "team/app"
	scannedAt := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
	platforms := []Image{
		{Registry: reg, Repository: repo, Digest: "sha256:amd", IndexDigest: "sha256:idx", Platform: "linux/amd64",
			Status: "scanned", LastScannedAt: scannedAt, Counts: Counts{High: 2, FixableCount: 1}, Tags: []string{"1"}},
		{Registry: reg, Repository: repo, Digest: "sha256:arm", IndexDigest: "sha256:idx", Platform: "linux/arm64",
			Status: "scanned", LastScannedAt: scannedAt, Tags: []string{"1"}},
		{Registry: reg, Repository: repo, Digest: "sha256:single", Status: "scanned", LastScannedAt: scannedAt},
	}
	for _, img := range platforms {
		if err := s.PutImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	get := func(t *testing.T, digest string) Image {
		t.Helper()
		img, err := s.GetImage(ctx, reg, repo, digest)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	t.Run("ImagesOf an index digest returns its platforms' rows", func(t *testing.T) {
		got, err := s.ImagesOf(ctx, reg, repo, "sha256:idx")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(platforms[:2], got); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	})
	t.Run("SetImageError keeps status and counts and records the error", func(t *testing.T) {
		at := scannedAt.Add(time.Hour)
		if err := s.SetImageError(ctx, reg, repo, []string{"sha256:amd"}, "advisories unavailable", at); err != nil {
			t.Fatal(err)
		}
		want := platforms[0]
		want.LastError, want.LastErrorAt = "advisories unavailable", at
		if diff := cmp.Diff(want, get(t, "sha256:amd")); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
	})
	t.Run("SetImageCounts changes only the counts and creates no row", func(t *testing.T) {
		if err := s.SetImageCounts(ctx, reg, repo, "sha256:arm", Counts{Low: 3}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetImageCounts(ctx, reg, repo, "sha256:absent", Counts{Low: 3}); err != nil {
			t.Fatal(err)
		}
		want := platforms[1]
		want.Counts = Counts{Low: 3}
		if diff := cmp.Diff(want, get(t, "sha256:arm")); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
		if _, err := s.GetImage(ctx, reg, repo, "sha256:absent"); !errors.Is(err, ErrNotFound) {
			t.Errorf("counts of an absent row created it (%v)", err)
		}
	})
	t.Run("SetImageTags replaces the Tags column", func(t *testing.T) {
		if err := s.SetImageTags(ctx, reg, repo, map[string][]string{"sha256:single": {"2", "latest"}, "sha256:arm": nil}); err != nil {
			t.Fatal(err)
		}
		if got := get(t, "sha256:single").Tags; !cmp.Equal(got, []string{"2", "latest"}) {
			t.Errorf("tags of sha256:single = %v", got)
		}
		if got := get(t, "sha256:arm").Tags; got != nil {
			t.Errorf("tags of sha256:arm = %v, want none", got)
		}
	})
	t.Run("DeleteImage deletes a row and tolerates a missing one", func(t *testing.T) {
		for range 2 {
			if err := s.DeleteImage(ctx, reg, repo, "sha256:single"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.GetImage(ctx, reg, repo, "sha256:single"); !errors.Is(err, ErrNotFound) {
			t.Errorf("row still readable (%v)", err)
		}
	})
}
