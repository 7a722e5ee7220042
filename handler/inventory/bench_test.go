package inventory_test

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

var benchImages = []string{"debian12-minbase", "debian12-layered"}

// BenchmarkWalkFloor is the least work any scan must do: read each layer blob,
// gunzip it (with the same fast decompressor the scanner uses, so the ratio measures
// Tidewatch's own overhead, not a library choice) and walk its tar, discarding
// everything.
func BenchmarkWalkFloor(b *testing.B) {
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			path := testenv.Image(b, name)
			layers := map[string]bool{}
			for _, m := range readSidecarB(b, name).Manifests {
				for _, l := range m.Layers {
					layers["blobs/sha256/"+l.Digest[len("sha256:"):]] = true
				}
			}
			for b.Loop() {
				walkFloor(b, path, layers)
			}
		})
	}
}

func walkFloor(b *testing.B, path string, layers map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	archive := tar.NewReader(f)
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		if !layers[hdr.Name] {
			continue
		}
		zr, err := gzip.NewReader(archive)
		if err != nil {
			b.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			if _, err := tr.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkScanCold resolves the archive and inventories it with an empty cache.
func BenchmarkScanCold(b *testing.B) {
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			path := testenv.Image(b, name)
			for b.Loop() {
				target, err := image.FromArchive(path)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range target.Platforms {
					if _, err := inventory.Scan(context.Background(), p, inventory.NewMemoryCache()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
