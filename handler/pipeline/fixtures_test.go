package pipeline_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// Fixture images (shared OCI tarballs) and their ground-truth sidecars.
const (
	minbase   = "debian12-minbase"
	layered   = "debian12-layered"
	multiarch = "debian12-multiarch"
)

// sidecar is the part of an image's ground-truth JSON the tests read.
type sidecar struct {
	ManifestDigest string `json:"manifestDigest"`
	IndexDigest    string `json:"indexDigest"`
	Manifests      []struct {
		Platform       string `json:"platform"`
		ManifestDigest string `json:"manifestDigest"`
		Layers         []struct {
			DiffID string `json:"diffID"`
			Digest string `json:"digest"`
		} `json:"layers"`
	} `json:"manifests"`
	DpkgInventory map[string]struct {
		Packages []struct {
			Package string `json:"package"`
			Version string `json:"version"`
		} `json:"packages"`
		RemovedPackages []struct {
			Package string `json:"package"`
		} `json:"removedPackages"`
	} `json:"dpkgInventory"`
}

// pushedDigest is the digest a push of the fixture creates: the index for an index.
func (s sidecar) pushedDigest() string {
	if s.IndexDigest != "" {
		return s.IndexDigest
	}
	return s.ManifestDigest
}

// installed is the set of "package version" pairs of one platform.
func (s sidecar) installed(platform string) map[string]bool {
	out := map[string]bool{}
	for _, p := range s.DpkgInventory[platform].Packages {
		out[p.Package+" "+p.Version] = true
	}
	return out
}

func loadSidecar(t testing.TB, image string) sidecar {
	t.Helper()
	data, err := os.ReadFile(strings.TrimSuffix(testenv.Image(t, image), ".tar") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var s sidecar
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("decoding sidecar of %s: %v", image, err)
	}
	return s
}

// push pushes the fixture image (or index) to ref ("HOST/repo:tag") over plain HTTP.
func push(t testing.TB, image, ref string) {
	t.Helper()
	dir := t.TempDir()
	if err := untar(testenv.Image(t, image), dir); err != nil {
		t.Fatalf("unpacking %s: %v", image, err)
	}
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s: index.json lists %d manifests, want 1", image, len(im.Manifests))
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d := im.Manifests[0]
	opts := []remote.Option{remote.WithContext(context.Background())}
	if d.MediaType.IsIndex() {
		idx, err := ii.ImageIndex(d.Digest)
		if err == nil {
			err = remote.WriteIndex(r, idx, opts...)
		}
		if err != nil {
			t.Fatalf("pushing %s to %s: %v", image, ref, err)
		}
		return
	}
	img, err := ii.Image(d.Digest)
	if err == nil {
		err = remote.Write(r, img, opts...)
	}
	if err != nil {
		t.Fatalf("pushing %s to %s: %v", image, ref, err)
	}
}

// untar unpacks the regular files and directories of an OCI-layout tar into dir.
func untar(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeFile(target, tr)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
