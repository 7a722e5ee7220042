package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// inventoryJSON is a small inventory-shaped document: what the inline copy holds is
// opaque to the store.
var inventoryJSON = []byte(`{"analyzer":"tidewatch-layer/3","packages":[{"name":"libc6","version":"2.36-9+deb12u4"}]}`)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInlineInventory(t *testing.T) {
	inlined := func(t *testing.T, data []byte) Image {
		t.Helper()
		img := Image{Digest: "sha256:aa"}
		ok, err := img.SetInlineInventory(data, MaxInlineInventory)
		if err != nil || !ok {
			t.Fatalf("SetInlineInventory = %v, %v; want inlined", ok, err)
		}
		return img
	}
	t.Run("an inlined inventory reads back byte for byte and names its SHA-256", func(t *testing.T) {
		img := inlined(t, inventoryJSON)
		// `printf '%s' "$inventoryJSON" | sha256sum`, computed outside Go.
		if want := "76d14c5f0d9fda70de7ebd3c4b64adf1adad8ebb730d6974b3af2deaa601a684"; img.InventorySHA256 != want {
			t.Errorf("checksum %q, want %s", img.InventorySHA256, want)
		}
		zr, err := gzip.NewReader(bytes.NewReader(img.InventoryGzip))
		if err != nil {
			t.Fatalf("the copy is not gzip: %v", err)
		}
		var plain bytes.Buffer
		if _, err := plain.ReadFrom(zr); err != nil || !bytes.Equal(plain.Bytes(), inventoryJSON) {
			t.Fatalf("the copy gunzips to %q (%v), want the inventory", plain.Bytes(), err)
		}
		got, ok, err := img.InlineInventory()
		if err != nil || !ok || !bytes.Equal(got, inventoryJSON) {
			t.Fatalf("InlineInventory = %q, %v, %v; want the inventory", got, ok, err)
		}
	})
	t.Run("an inventory that compresses to the bound is inlined, one byte more is not", func(t *testing.T) {
		// Random bytes do not compress: gzip stores them with a few bytes of framing.
		if img := inlined(t, randomBytes(t, MaxInlineInventory-100)); len(img.InventoryGzip) > MaxInlineInventory {
			t.Fatalf("copy of %d bytes exceeds the bound %d", len(img.InventoryGzip), MaxInlineInventory)
		}
		img := Image{Digest: "sha256:big", InventoryGzip: []byte("stale"), InventorySHA256: "stale"}
		ok, err := img.SetInlineInventory(randomBytes(t, MaxInlineInventory+1), MaxInlineInventory)
		if err != nil || ok || img.InventoryGzip != nil || img.InventorySHA256 != "" {
			t.Fatalf("oversized: ok %v, err %v, copy %d bytes, checksum %q; want no copy", ok, err, len(img.InventoryGzip), img.InventorySHA256)
		}
	})
	t.Run("a lower limit keeps an inventory that fits the bound out of the row", func(t *testing.T) {
		img := Image{Digest: "sha256:aa"}
		ok, err := img.SetInlineInventory(inventoryJSON, 10)
		if err != nil || ok || img.InventoryGzip != nil {
			t.Fatalf("limit 10: ok %v, err %v, copy %d bytes; want no copy", ok, err, len(img.InventoryGzip))
		}
	})
	t.Run("a row without a copy reports none", func(t *testing.T) {
		if data, ok, err := (Image{}).InlineInventory(); data != nil || ok || err != nil {
			t.Fatalf("InlineInventory = %q, %v, %v; want nothing", data, ok, err)
		}
	})
	good := inlined(t, inventoryJSON)
	flipped := bytes.Clone(good.InventoryGzip)
	flipped[len(flipped)/2] ^= 0xff
	otherSum := inlined(t, []byte(`{"other":true}`)).InventorySHA256
	corrupt := []struct {
		name     string
		gz       []byte
		checksum string
	}{
		{"a copy cut short", good.InventoryGzip[:len(good.InventoryGzip)/2], good.InventorySHA256},
		{"a copy with a flipped byte", flipped, good.InventorySHA256},
		{"a copy that is not gzip", inventoryJSON, good.InventorySHA256},
		{"a copy naming another inventory's checksum", good.InventoryGzip, otherSum},
		{"a copy without a checksum", good.InventoryGzip, ""},
		{"a copy with a checksum that is not hex", good.InventoryGzip, "not-a-sha256"},
	}
	for _, tt := range corrupt {
		t.Run(tt.name+" is corrupt, never data", func(t *testing.T) {
			img := Image{Digest: "sha256:aa", InventoryGzip: tt.gz, InventorySHA256: tt.checksum}
			data, ok, err := img.InlineInventory()
			if !errors.Is(err, ErrInlineInventoryCorrupt) || ok || data != nil {
				t.Fatalf("InlineInventory = %q, %v, %v; want ErrInlineInventoryCorrupt", data, ok, err)
			}
		})
	}
}

// fullImage has every Image field set, so a column the projection forgets shows.
func fullImage(t *testing.T) Image {
	t.Helper()
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	img := Image{
		Registry: "contoso.azurecr.io", Repository: "team/api", Digest: "sha256:1111",
		Tags: []string{"1.2", "latest"}, IndexDigest: "sha256:9999", Platform: "linux/arm64/v8",
		OS: "debian", OSVersion: "12", AdvisorySource: "Debian",
		PushedAt: at, LastPulledAt: at.Add(time.Hour), LastScannedAt: at.Add(2 * time.Hour),
		Generation: "20250303T120000Z", LastMatchedAt: at.Add(3 * time.Hour),
		Counts: Counts{Critical: 1, High: 2, Medium: 3, Low: 4, Unknown: 5, FixableCount: 6},
		Status: "scanned", Error: "partial", LastError: "earlier failure", LastErrorAt: at.Add(4 * time.Hour),
		InventoryRef: "inventories/sha256:1111.json.gz", Analyzer: "tidewatch-layer/3",
		Packages: "Debian:12 1", Skipped: "sbom sha256:2222",
	}
	if _, err := img.SetInlineInventory(inventoryJSON, MaxInlineInventory); err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(img)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullImage leaves %s zero: set it, and select it in imageColumnsWithoutInventory", v.Type().Field(i).Name)
		}
	}
	return img
}

func TestImageReadsCarryTheInlineInventoryOnlyForTheRematch(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	img := fullImage(t)
	if err := s.PutImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	withoutCopy := img
	withoutCopy.InventoryGzip, withoutCopy.InventorySHA256 = nil, ""
	read := map[string]func() (Image, error){
		"the rematch page (ListImagesAfter)": func() (Image, error) {
			rows, _, _, err := s.ListImagesAfter(ctx, ImageCursor{}, 10)
			return only(rows, err)
		},
		"a digest's rows (ImagesOf)": func() (Image, error) {
			return only(s.ImagesOf(ctx, img.Registry, img.Repository, img.Digest))
		},
		"a repository's listing (ListImages)": func() (Image, error) {
			return only(s.ListImages(ctx, img.Registry, img.Repository))
		},
		"a partition page (ListImagesPage)": func() (Image, error) {
			rows, _, err := s.ListImagesPage(ctx, repoKey(img.Registry, img.Repository), "", 10)
			return only(rows, err)
		},
		"one row (GetImage)": func() (Image, error) {
			return s.GetImage(ctx, img.Registry, img.Repository, img.Digest)
		},
	}
	want := map[string]Image{
		"the rematch page (ListImagesAfter)":  img,
		"a digest's rows (ImagesOf)":          img,
		"a repository's listing (ListImages)": withoutCopy,
		"a partition page (ListImagesPage)":   withoutCopy,
		"one row (GetImage)":                  withoutCopy,
	}
	for name, readRow := range read {
		t.Run(name+" returns every column, the inline copy only for the rematch", func(t *testing.T) {
			got, err := readRow()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want[name], got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a row at the inline bound is accepted by the service", func(t *testing.T) {
		big := img
		big.Digest = "sha256:big"
		data := randomBytes(t, MaxInlineInventory-100)
		if ok, err := big.SetInlineInventory(data, MaxInlineInventory); err != nil || !ok {
			t.Fatalf("SetInlineInventory = %v, %v", ok, err)
		}
		if err := s.PutImage(ctx, big); err != nil {
			t.Fatal(err)
		}
		rows, err := s.ImagesOf(ctx, big.Registry, big.Repository, big.Digest)
		got, err := only(rows, err)
		if err != nil {
			t.Fatal(err)
		}
		if back, ok, err := got.InlineInventory(); err != nil || !ok || !bytes.Equal(back, data) {
			t.Fatalf("the copy read back: %d bytes, %v, %v; want the %d bytes written", len(back), ok, err, len(data))
		}
	})
}

func only(rows []Image, err error) (Image, error) {
	if err != nil {
		return Image{}, err
	}
	if len(rows) != 1 {
		return Image{}, errors.New("want exactly one row")
	}
	return rows[0], nil
}
