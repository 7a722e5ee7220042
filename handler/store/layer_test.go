package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLayers(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const diffID, analyzer = "sha256:3c1f", "tidewatch-1/scalibr-0.5.3"
	data := []byte(`{"packages":[{"name":"libc6","version":"2.36-9"}],"whiteouts":["etc/x"]}`)

	t.Run("an unknown layer is ErrNotFound", func(t *testing.T) {
		if _, err := s.GetLayer(ctx, diffID, analyzer); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	if err := s.PutLayer(ctx, diffID, analyzer, data, WithLayerCounts(1, 7, 1)); err != nil {
		t.Fatal(err)
	}
	t.Run("a stored layer reads back", func(t *testing.T) {
		got, err := s.GetLayer(ctx, diffID, analyzer)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("GetLayer = %s, want %s", got, data)
		}
	})
	t.Run("another analyzer version is a miss", func(t *testing.T) {
		if _, err := s.GetLayer(ctx, diffID, "tidewatch-2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("the blob is gzipped JSON at layers/<diffID>/<analyzer>.json.gz", func(t *testing.T) {
		raw, err := s.layerBlobs.Download(ctx, diffID+"/"+analyzer+".json.gz")
		if err != nil {
			t.Fatal(err)
		}
		if got := gunzip(t, raw); !bytes.Equal(got, data) {
			t.Errorf("blob holds %s, want %s", got, data)
		}
	})
	t.Run("the row carries readable columns", func(t *testing.T) {
		r, err := getRow(ctx, s.layers, EscapeKey(diffID), EscapeKey(analyzer))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]any{"BlobRef": r.str("BlobRef"), "Bytes": r.int64("Bytes"), "Packages": r.int("Packages"), "Files": r.int("Files"), "Whiteouts": r.int("Whiteouts")}
		want := map[string]any{"BlobRef": "layers/" + diffID + "/" + analyzer + ".json.gz", "Bytes": int64(len(data)), "Packages": 1, "Files": 7, "Whiteouts": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
	})
}

func TestInventories(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte(`{"name":"zlib1g","version":"1:1.2.13"},`), 1000)
	ref, err := s.PutInventory(ctx, "sha256:abcd", data)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "inventories/sha256:abcd.json.gz" {
		t.Errorf("ref = %q", ref)
	}
	got, err := s.GetInventory(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("inventory differs after round trip")
	}
	if _, err := s.GetInventory(ctx, "inventories/sha256:none.json.gz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing inventory: %v, want ErrNotFound", err)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
