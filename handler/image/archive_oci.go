package image

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archiveIndex is an image index stored in an OCI layout archive.
type archiveIndex struct {
	archive  *archive
	raw      []byte
	manifest *v1.IndexManifest
}

var _ v1.ImageIndex = (*archiveIndex)(nil)

func newArchiveIndex(a *archive, raw []byte) (*archiveIndex, error) {
	var m v1.IndexManifest
	if err := decodeJSON("image index", raw, &m); err != nil {
		return nil, err
	}
	return &archiveIndex{archive: a, raw: raw, manifest: &m}, nil
}

// MediaType implements v1.ImageIndex.
func (x *archiveIndex) MediaType() (types.MediaType, error) {
	if x.manifest.MediaType != "" {
		return x.manifest.MediaType, nil
	}
	return types.OCIImageIndex, nil
}

// Digest implements v1.ImageIndex.
func (x *archiveIndex) Digest() (v1.Hash, error) { return partial.Digest(x) }

// Size implements v1.ImageIndex.
func (x *archiveIndex) Size() (int64, error) { return int64(len(x.raw)), nil }

// IndexManifest implements v1.ImageIndex.
func (x *archiveIndex) IndexManifest() (*v1.IndexManifest, error) { return x.manifest.DeepCopy(), nil }

// RawManifest implements v1.ImageIndex.
func (x *archiveIndex) RawManifest() ([]byte, error) { return x.raw, nil }

// Image implements v1.ImageIndex.
func (x *archiveIndex) Image(h v1.Hash) (v1.Image, error) { return x.archive.image(h) }

// ImageIndex implements v1.ImageIndex.
func (x *archiveIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	raw, err := x.archive.readBlob(h)
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", h, err)
	}
	return newArchiveIndex(x.archive, raw)
}

// image opens the image manifest with digest h.
func (a *archive) image(h v1.Hash) (v1.Image, error) {
	raw, err := a.readBlob(h)
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", h, err)
	}
	var m v1.Manifest
	if err := decodeJSON("image manifest "+h.String(), raw, &m); err != nil {
		return nil, err
	}
	rawConfig, err := a.readBlob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", h, err)
	}
	return partial.CompressedToImage(&archiveImage{archive: a, rawManifest: raw, manifest: &m, rawConfig: rawConfig})
}

// archiveImage is the minimal core of an image stored in an OCI layout archive;
// partial.CompressedToImage derives the rest of v1.Image from it.
type archiveImage struct {
	archive     *archive
	rawManifest []byte
	manifest    *v1.Manifest
	rawConfig   []byte
}

var _ partial.CompressedImageCore = (*archiveImage)(nil)

// RawConfigFile implements partial.CompressedImageCore.
func (i *archiveImage) RawConfigFile() ([]byte, error) { return i.rawConfig, nil }

// MediaType implements partial.CompressedImageCore.
func (i *archiveImage) MediaType() (types.MediaType, error) {
	if i.manifest.MediaType != "" {
		return i.manifest.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

// RawManifest implements partial.CompressedImageCore.
func (i *archiveImage) RawManifest() ([]byte, error) { return i.rawManifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (i *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return &archiveLayer{archive: i.archive, desc: i.manifest.Config}, nil
	}
	for n, desc := range i.manifest.Layers {
		if desc.Digest != h {
			continue
		}
		// The config is decoded here, not when the image is opened, so that an
		// artifact whose config is not an image config can still be recognised.
		var config v1.ConfigFile
		if err := decodeJSON("image config", i.rawConfig, &config); err != nil {
			return nil, err
		}
		if n >= len(config.RootFS.DiffIDs) {
			return nil, fmt.Errorf("layer %d has no diffID in the config: %w", n, ErrMalformed)
		}
		return &archiveLayer{archive: i.archive, desc: desc, diffID: config.RootFS.DiffIDs[n]}, nil
	}
	return nil, fmt.Errorf("image has no layer %s: %w", h, ErrMalformed)
}

// archiveLayer is a compressed layer blob in an archive. Its bytes are checked
// against the digest by whoever reads them to the end (WalkLayer does).
type archiveLayer struct {
	archive *archive
	desc    v1.Descriptor
	diffID  v1.Hash
}

// Digest implements partial.CompressedLayer.
func (l *archiveLayer) Digest() (v1.Hash, error) { return l.desc.Digest, nil }

// DiffID implements partial.WithDiffID, from the config, so that nothing decompresses
// the layer just to name it.
func (l *archiveLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size implements partial.CompressedLayer.
func (l *archiveLayer) Size() (int64, error) { return l.desc.Size, nil }

// MediaType implements partial.CompressedLayer.
func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed implements partial.CompressedLayer.
func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	rc, size, err := l.archive.open(blobName(l.desc.Digest))
	if err != nil {
		return nil, fmt.Errorf("opening layer %s: %w", l.desc.Digest, err)
	}
	if size != l.desc.Size {
		rc.Close()
		return nil, fmt.Errorf("layer %s is %d bytes, manifest says %d: %w", l.desc.Digest, size, l.desc.Size, ErrMalformed)
	}
	return rc, nil
}
