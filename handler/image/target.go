package image

import (
	"cmp"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Target is what one reference resolves to: one platform image for a single manifest,
// every runnable platform for an index.
type Target struct {
	// Reference is the reference the target was resolved from.
	Reference string
	// IndexDigest is the digest of the image index, "" for a single manifest.
	IndexDigest string
	// Platforms holds one entry per platform image, in index order, each digest once.
	Platforms []PlatformImage
	// Skipped lists the index entries that are not scanned, in index order:
	// artifacts (SBOMs, signatures), attestations, unknown platforms and media types
	// that are not image manifests.
	Skipped []SkippedManifest
}

// PlatformImage is one platform's image of a Target.
type PlatformImage struct {
	// Platform is from the index entry, or from the image config when the entry
	// has none; its String() is "os/arch[/variant]".
	Platform v1.Platform
	// Digest is the platform manifest digest ("sha256:…").
	Digest string
	// Image is the platform image; its config has been read.
	Image v1.Image
}

// SkippedManifest is an index entry that resolution did not scan, and why.
type SkippedManifest struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType,omitempty"`
	Reason       string `json:"reason"`
}

// String names the entry and why it was skipped, for logs and the images Skipped column.
func (s SkippedManifest) String() string {
	what := s.MediaType
	if s.ArtifactType != "" {
		what += ", " + s.ArtifactType
	}
	return fmt.Sprintf("%s (%s): %s", s.Digest, what, s.Reason)
}

// Bounds of index resolution, so a small hostile index cannot expand into a huge scan.
const (
	// maxPlatforms caps the platform images one reference resolves to.
	maxPlatforms = 256
	// maxIndexEntries caps the distinct index entries visited, skipped ones included.
	maxIndexEntries = 4 * maxPlatforms
	// maxIndexDepth bounds nested indexes.
	maxIndexDepth = 4
)

// ResolveOption tunes FromIndex.
type ResolveOption func(*resolver)

// WithRetry runs every fetch of resolution (a nested index, a child manifest, an
// image config) through retry, so a registry fault does not fail the target. The caller binds its context and policy, e.g.
// func(op func() error) error { return client.Retry(ctx, func(context.Context) error { return op() }) }.
func WithRetry(retry func(op func() error) error) ResolveOption {
	return func(r *resolver) { r.retry = retry }
}

// FromImage resolves a single-manifest image; the platform comes from its config,
// which is read once, checked against its digest and kept with the image. An
// artifact (an SBOM, a signature) is ErrNothingToScan.
func FromImage(ref string, img v1.Image) (*Target, error) {
	r := newResolver(ref, nil)
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("resolving %s: digesting image manifest: %w", ref, err)
	}
	desc := v1.Descriptor{Digest: digest}
	if mt, err := img.MediaType(); err == nil {
		desc.MediaType = mt
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("resolving %s: reading manifest: %w", ref, err)
	}
	if skip := skipOf(m, desc); skip != nil {
		r.target.Skipped = append(r.target.Skipped, *skip)
		return r.result()
	}
	config, err := fetchConfig(img, m)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: reading config: %w", ref, err)
	}
	pi, err := platformOf(img, m, config, desc)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", ref, err)
	}
	r.target.Platforms = append(r.target.Platforms, pi)
	return r.result()
}

// FromIndex resolves an image index to every platform image it lists, following
// nested indexes, visiting each digest once, and listing what it skips in
// Target.Skipped. More than 256 platforms, or nesting deeper than four
// levels, is ErrMalformed; an index with nothing to scan is ErrNothingToScan.
func FromIndex(ref string, idx v1.ImageIndex, opts ...ResolveOption) (*Target, error) {
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("digesting index %s: %w", ref, err)
	}
	r := newResolver(ref, opts)
	r.target.IndexDigest = digest.String()
	r.seen[digest] = true
	if err := r.walk(idx, 0); err != nil {
		return nil, fmt.Errorf("resolving index %s: %w", ref, err)
	}
	return r.result()
}

// resolver is the state of one resolution.
type resolver struct {
	retry   func(op func() error) error
	seen    map[v1.Hash]bool
	entries int
	target  *Target
}

func newResolver(ref string, opts []ResolveOption) *resolver {
	r := &resolver{
		retry:  func(op func() error) error { return op() },
		seen:   map[v1.Hash]bool{},
		target: &Target{Reference: ref},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// result is the target, or ErrNothingToScan naming what was skipped.
func (r *resolver) result() (*Target, error) {
	if len(r.target.Platforms) > 0 {
		return r.target, nil
	}
	const listed = 8
	var parts []string
	for i, s := range r.target.Skipped {
		if i == listed {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.target.Skipped)-listed))
			break
		}
		parts = append(parts, s.String())
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s lists no manifest: %w", r.target.Reference, ErrNothingToScan)
	}
	return nil, fmt.Errorf("%s has no platform image, skipped %s: %w", r.target.Reference, strings.Join(parts, "; "), ErrNothingToScan)
}

func (r *resolver) walk(idx v1.ImageIndex, depth int) error {
	if depth > maxIndexDepth {
		return fmt.Errorf("indexes nested deeper than %d: %w", maxIndexDepth, ErrMalformed)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading index manifest: %w", err)
	}
	for _, desc := range manifest.Manifests {
		if r.seen[desc.Digest] {
			continue
		}
		r.seen[desc.Digest] = true
		if r.entries++; r.entries > maxIndexEntries {
			return fmt.Errorf("more than %d distinct index entries: %w: %w", maxIndexEntries, ErrMalformed, ErrLimitExceeded)
		}
		if reason := descriptorSkipReason(desc); reason != "" {
			r.skip(desc, reason)
			continue
		}
		if desc.MediaType.IsIndex() {
			var nested v1.ImageIndex
			err := r.retry(func() error {
				var err error
				nested, err = idx.ImageIndex(desc.Digest)
				if err == nil {
					_, err = nested.IndexManifest()
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("opening nested index %s: %w", desc.Digest, err)
			}
			if err := r.walk(nested, depth+1); err != nil {
				return fmt.Errorf("in nested index %s: %w", desc.Digest, err)
			}
			continue
		}
		if err := r.image(idx, desc); err != nil {
			return err
		}
	}
	return nil
}

// image opens the image manifest desc names and adds it as a platform, or skips it.
// The manifest and the config are fetched under separate retries, so a fault on one
// does not cost the other again.
func (r *resolver) image(idx v1.ImageIndex, desc v1.Descriptor) error {
	var (
		img v1.Image
		m   *v1.Manifest
	)
	err := r.retry(func() error {
		var err error
		if img, err = idx.Image(desc.Digest); err != nil {
			return err
		}
		m, err = img.Manifest()
		return err
	})
	if err != nil {
		return fmt.Errorf("opening image %s: %w", desc.Digest, err)
	}
	if skip := skipOf(m, desc); skip != nil {
		r.target.Skipped = append(r.target.Skipped, *skip)
		return nil
	}
	var config []byte
	err = r.retry(func() error {
		var err error
		config, err = fetchConfig(img, m)
		return err
	})
	if err != nil {
		return fmt.Errorf("reading config of %s: %w", desc.Digest, err)
	}
	pi, err := platformOf(img, m, config, desc)
	switch {
	case err != nil:
		return err
	case pi.Platform.OS == "" || pi.Platform.OS == "unknown" || pi.Platform.Architecture == "unknown":
		r.skip(desc, "unknown platform "+pi.Platform.String())
		return nil
	}
	if len(r.target.Platforms) == maxPlatforms {
		return fmt.Errorf("more than %d platform images, the most one reference may resolve to: %w: %w", maxPlatforms, ErrMalformed, ErrLimitExceeded)
	}
	r.target.Platforms = append(r.target.Platforms, pi)
	return nil
}

// skipOf returns the skipped entry when manifest m (of index entry desc) is an
// artifact rather than a container image, else nil.
func skipOf(m *v1.Manifest, desc v1.Descriptor) *SkippedManifest {
	artifactType, reason := manifestSkipReason(m)
	if reason == "" {
		return nil
	}
	return &SkippedManifest{
		Digest: desc.Digest.String(), MediaType: string(cmp.Or(desc.MediaType, m.MediaType)),
		ArtifactType: artifactType, Reason: reason,
	}
}

// platformOf pairs img, with its config pinned to rawConfig, with its platform: from
// the index entry when it names one, else from the config.
func platformOf(img v1.Image, m *v1.Manifest, rawConfig []byte, desc v1.Descriptor) (PlatformImage, error) {
	img, err := pinConfig(img, rawConfig)
	if err != nil {
		return PlatformImage{}, fmt.Errorf("opening image %s: %w", desc.Digest, err)
	}
	config, err := img.ConfigFile()
	if err != nil {
		return PlatformImage{}, fmt.Errorf("decoding config of %s: %w: %w", desc.Digest, ErrMalformed, err)
	}
	if len(config.RootFS.DiffIDs) != len(m.Layers) {
		return PlatformImage{}, fmt.Errorf("image %s lists %d layers but its config %d diffIDs: %w",
			desc.Digest, len(m.Layers), len(config.RootFS.DiffIDs), ErrMalformed)
	}
	pi := PlatformImage{Digest: desc.Digest.String(), Image: img}
	if p := desc.Platform; p != nil && p.OS != "" {
		pi.Platform = *p
	} else if p := config.Platform(); p != nil {
		pi.Platform = *p
	}
	return pi, nil
}

// skip records desc as skipped.
func (r *resolver) skip(desc v1.Descriptor, reason string) {
	r.target.Skipped = append(r.target.Skipped, SkippedManifest{
		Digest: desc.Digest.String(), MediaType: string(desc.MediaType),
		ArtifactType: desc.ArtifactType, Reason: reason,
	})
}
