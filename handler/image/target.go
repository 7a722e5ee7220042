package image

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Target is what one reference resolves to: one platform image for a single manifest,
// every runnable platform for an index.
type Target struct {
	// Reference is the reference the target was resolved from.
	Reference string
	// IndexDigest is the digest of the image index, "" for a single manifest.
	IndexDigest string
	// Platforms holds one entry per platform image, in index order.
	Platforms []PlatformImage
}

// PlatformImage is one platform's image of a Target.
type PlatformImage struct {
	Platform Platform
	// Digest is the platform manifest digest ("sha256:…").
	Digest string
	Image  v1.Image
}

// dockerReferenceType is the annotation BuildKit puts on attestation manifests.
const dockerReferenceType = "vnd.docker.reference.type"

// FromImage resolves a single-manifest image; the platform comes from its config.
func FromImage(ref string, img v1.Image) (*Target, error) {
	pi, err := platformImage(img, nil)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", ref, err)
	}
	return &Target{Reference: ref, Platforms: []PlatformImage{pi}}, nil
}

// FromIndex resolves an image index to every platform image it lists, skipping
// attestation manifests and unknown platforms. Nested indexes are followed.
func FromIndex(ref string, idx v1.ImageIndex) (*Target, error) {
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting index %s: %w", ref, err)
	}
	platforms, err := indexPlatforms(idx, 0)
	if err != nil {
		return nil, fmt.Errorf("resolving index %s: %w", ref, err)
	}
	return &Target{Reference: ref, IndexDigest: digest.String(), Platforms: platforms}, nil
}

// maxIndexDepth bounds nested indexes so a cyclic archive cannot recurse forever.
const maxIndexDepth = 4

func indexPlatforms(idx v1.ImageIndex, depth int) ([]PlatformImage, error) {
	if depth > maxIndexDepth {
		return nil, fmt.Errorf("indexes nested deeper than %d: %w", maxIndexDepth, ErrMalformed)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index manifest: %w", err)
	}
	var platforms []PlatformImage
	for _, desc := range manifest.Manifests {
		if isAttestation(desc) {
			continue
		}
		switch {
		case desc.MediaType.IsIndex():
			nested, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("opening nested index %s: %w", desc.Digest, err)
			}
			more, err := indexPlatforms(nested, depth+1)
			if err != nil {
				return nil, fmt.Errorf("in nested index %s: %w", desc.Digest, err)
			}
			platforms = append(platforms, more...)
		case desc.MediaType.IsImage() || desc.MediaType == "":
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("opening image %s: %w", desc.Digest, err)
			}
			pi, err := platformImage(img, desc.Platform)
			if err != nil {
				return nil, err
			}
			if pi.Platform.OS == "unknown" || pi.Platform.Architecture == "unknown" {
				continue
			}
			platforms = append(platforms, pi)
		}
	}
	return platforms, nil
}

// isAttestation reports whether an index entry is a BuildKit attestation or names
// the unknown platform, neither of which is a runnable image.
func isAttestation(desc v1.Descriptor) bool {
	if _, ok := desc.Annotations[dockerReferenceType]; ok {
		return true
	}
	p := desc.Platform
	return p != nil && (p.OS == "unknown" || p.Architecture == "unknown")
}

// platformImage pairs img with its platform: from the index descriptor when given,
// else from the image config.
func platformImage(img v1.Image, fromIndex *v1.Platform) (PlatformImage, error) {
	digest, err := img.Digest()
	if err != nil {
		return PlatformImage{}, fmt.Errorf("digesting image manifest: %w", err)
	}
	pi := PlatformImage{Digest: digest.String(), Image: img}
	if fromIndex != nil && fromIndex.OS != "" {
		pi.Platform = Platform{OS: fromIndex.OS, Architecture: fromIndex.Architecture, Variant: fromIndex.Variant}
		return pi, nil
	}
	config, err := img.ConfigFile()
	if err != nil {
		return PlatformImage{}, fmt.Errorf("reading config of %s: %w", digest, err)
	}
	pi.Platform = Platform{OS: config.OS, Architecture: config.Architecture, Variant: config.Variant}
	return pi, nil
}
