package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fetchConfig reads img's config blob afresh on every call, bounded in size, and
// checks it against the manifest's digest. It reads the blob rather than asking for
// img.RawConfigFile: go-containerregistry keeps a remote config body cut short by a
// broken connection as if it were whole, so a retry of RawConfigFile cannot help.
func fetchConfig(img v1.Image, m *v1.Manifest) ([]byte, error) {
	if m.Config.Size > maxMetadataBlob {
		return nil, fmt.Errorf("config is %d bytes, more than %d: %w", m.Config.Size, maxMetadataBlob, ErrMalformed)
	}
	if m.Config.Digest.Algorithm != "sha256" {
		return nil, fmt.Errorf("config digest %s: unsupported algorithm: %w", m.Config.Digest, ErrMalformed)
	}
	var raw []byte
	if blob, err := img.LayerByDigest(m.Config.Digest); err == nil {
		rc, err := blob.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if raw, err = io.ReadAll(io.LimitReader(rc, maxMetadataBlob+1)); err != nil {
			return nil, err
		}
	} else if raw, err = img.RawConfigFile(); err != nil {
		// An image built in memory need not serve its config as a blob.
		return nil, err
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != m.Config.Digest.Hex {
		return nil, fmt.Errorf("config has digest sha256:%s, manifest says %s: %w", got, m.Config.Digest, ErrMalformed)
	}
	return raw, nil
}

// pinConfig returns img with its config fixed to raw (read by fetchConfig): layers
// still stream from img, but their diffIDs and the config never come from img again.
func pinConfig(img v1.Image, raw []byte) (v1.Image, error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	p := &pinnedImage{src: img, manifest: manifest, mediaType: mt, config: raw}
	if p.img, err = partial.CompressedToImage(p); err != nil {
		return nil, err
	}
	return p.img, nil
}

// pinnedImage is the core of a pinConfig image.
type pinnedImage struct {
	src       v1.Image
	img       v1.Image // the image built on this core, for diffID lookups
	manifest  []byte
	mediaType types.MediaType
	config    []byte
}

var _ partial.CompressedImageCore = (*pinnedImage)(nil)

// RawConfigFile implements partial.CompressedImageCore.
func (p *pinnedImage) RawConfigFile() ([]byte, error) { return p.config, nil }

// MediaType implements partial.CompressedImageCore.
func (p *pinnedImage) MediaType() (types.MediaType, error) { return p.mediaType, nil }

// RawManifest implements partial.CompressedImageCore.
func (p *pinnedImage) RawManifest() ([]byte, error) { return p.manifest, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (p *pinnedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, err := p.src.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &pinnedLayer{src: l, digest: h, img: p}, nil
}

// pinnedLayer is a layer of img whose diffID comes from the pinned config.
type pinnedLayer struct {
	src    v1.Layer
	digest v1.Hash
	img    *pinnedImage
}

// Digest implements partial.CompressedLayer.
func (l *pinnedLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// Compressed implements partial.CompressedLayer.
func (l *pinnedLayer) Compressed() (io.ReadCloser, error) { return l.src.Compressed() }

// Size implements partial.CompressedLayer.
func (l *pinnedLayer) Size() (int64, error) { return l.src.Size() }

// MediaType implements partial.CompressedLayer.
func (l *pinnedLayer) MediaType() (types.MediaType, error) { return l.src.MediaType() }

// DiffID implements partial.WithDiffID from the pinned config, so that nothing
// decompresses the layer just to name it.
func (l *pinnedLayer) DiffID() (v1.Hash, error) { return partial.BlobToDiffID(l.img.img, l.digest) }
