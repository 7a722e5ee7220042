package image_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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

// Artifacts found next to images in real indexes.
const (
	spdxArtifactType = "application/spdx+json"
	ociEmptyConfig   = "application/vnd.oci.empty.v1+json"
	inTotoLayer      = "application/vnd.in-toto+json"
	cosignLayer      = "application/vnd.dev.cosign.simplesigning.v1+json"
)

// sbomArtifact is an OCI 1.1 artifact: an artifactType, an empty config, an SPDX layer.
func sbomArtifact(t *testing.T) v1.Image {
	return buildImage(t, imageSpec{
		artifactType: spdxArtifactType, configMediaType: ociEmptyConfig, config: []byte("{}"),
		layers: []v1.Layer{static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3","name":"app"}`), spdxArtifactType)},
	})
}

// attestationManifest is what BuildKit writes: an image config for the unknown
// platform over an in-toto statement layer.
func attestationManifest(t *testing.T) v1.Image {
	statement := static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`), inTotoLayer)
	diffID, err := statement.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(v1.ConfigFile{OS: "unknown", Architecture: "unknown", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}}})
	if err != nil {
		t.Fatal(err)
	}
	return buildImage(t, imageSpec{configMediaType: types.OCIConfigJSON, config: config, layers: []v1.Layer{statement}})
}

// cosignSignature has an image config but a signature payload for a layer.
func cosignSignature(t *testing.T) v1.Image {
	payload := static.NewLayer([]byte(`{"critical":{"type":"cosign container image signature"}}`), cosignLayer)
	diffID, err := payload.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}}})
	if err != nil {
		t.Fatal(err)
	}
	return buildImage(t, imageSpec{configMediaType: types.OCIConfigJSON, config: config, layers: []v1.Layer{payload}})
}
