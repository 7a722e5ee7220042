package image_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawImage is an image whose manifest and config are exactly the bytes a test wrote,
// so it can lie where go-containerregistry's mutate would not let it (a config
// claiming diffIDs its layers do not have, an artifact with an empty config).
type rawImage struct {
	manifest, config []byte
	configDesc       v1.Descriptor
	layers           []v1.Layer
}

var _ partial.CompressedImageCore = (*rawImage)(nil)

func (r *rawImage) RawConfigFile() ([]byte, error)      { return r.config, nil }
func (r *rawImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (r *rawImage) RawManifest() ([]byte, error)        { return r.manifest, nil }

func (r *rawImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == r.configDesc.Digest {
		return static.NewLayer(r.config, r.configDesc.MediaType), nil
	}
	for _, l := range r.layers {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("test image has no blob %s", h)
}

// imageSpec describes a manifest to build with buildImage.
type imageSpec struct {
	artifactType    string
	configMediaType types.MediaType
	config          []byte
	layers          []v1.Layer
}

// buildImage writes an OCI image manifest for spec, byte for byte as given.
func buildImage(t *testing.T, spec imageSpec) v1.Image {
	t.Helper()
	cfgDigest, cfgSize, err := v1.SHA256(bytes.NewReader(spec.config))
	if err != nil {
		t.Fatal(err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  spec.artifactType,
		Config:        v1.Descriptor{MediaType: spec.configMediaType, Digest: cfgDigest, Size: cfgSize},
	}
	for _, l := range spec.layers {
		d, err := partial.Descriptor(l)
		if err != nil {
			t.Fatal(err)
		}
		m.Layers = append(m.Layers, *d)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	img, err := partial.CompressedToImage(&rawImage{manifest: raw, config: spec.config, configDesc: m.Config, layers: spec.layers})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// imageClaiming builds a linux/amd64 image of one small random layer whose config
// claims diffIDs instead of the layer's own.
func imageClaiming(t *testing.T, diffIDs ...v1.Hash) v1.Image {
	t.Helper()
	layer, err := random.Layer(256, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(v1.ConfigFile{
		OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	return buildImage(t, imageSpec{configMediaType: types.OCIConfigJSON, config: config, layers: []v1.Layer{layer}})
}

// layoutArchive writes idx as an OCI image layout (index.json is idx's manifest) and
// returns the path of a tar of it, the form `tidewatch scan --archive` reads.
func layoutArchive(t *testing.T, idx v1.ImageIndex) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatalf("writing OCI layout: %v", err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
