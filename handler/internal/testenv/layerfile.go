package testenv

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// layerFile reads the regular file at path from the layer blob digest of a shared
// fixture image (an OCI layout tar with gzip layers).
func layerFile(t testing.TB, image, digest, path string) ([]byte, bool) {
	t.Helper()
	f, err := os.Open(Image(t, image))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no layer %s in %s", digest, image)
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name != "blobs/"+strings.Replace(digest, ":", "/", 1) {
			continue
		}
		zr, err := gzip.NewReader(tr)
		if err != nil {
			t.Fatal(err)
		}
		lr := tar.NewReader(zr)
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimPrefix(h.Name, "./") == path && h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(lr)
				if err != nil {
					t.Fatal(err)
				}
				return b, true
			}
		}
	}
}
