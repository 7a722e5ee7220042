package image

import (
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations an OCI layout's index.json uses to name the image.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// FromArchive resolves a tar file holding an OCI image layout (index.json pointing
// at an image or at a nested index) or, failing that, a docker-save tarball
// (manifest.json). The tar is indexed once and never extracted; layer blobs are read
// straight from the file. Platform digests are the OCI manifest digests; for a
// docker-save tarball they are the digests of the Docker manifest go-containerregistry
// synthesises. Errors about the file's contents match ErrMalformed.
func FromArchive(path string) (*Target, error) {
	a, err := indexArchive(path)
	if err != nil {
		return nil, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	switch {
	case a.has("index.json"):
		t, err := fromLayout(a, path)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout archive %s: %w", path, err)
		}
		return t, nil
	case a.has("manifest.json"):
		t, err := fromDockerSave(a, path)
		if err != nil {
			return nil, fmt.Errorf("reading docker-save archive %s: %w", path, err)
		}
		return t, nil
	default:
		return nil, fmt.Errorf("reading image archive %s: neither index.json nor manifest.json: %w", path, ErrMalformed)
	}
}

// fromLayout resolves index.json. A lone nested index is the image's real index, so
// its digest becomes the target's IndexDigest; otherwise index.json is only the
// layout's table of contents and its entries are the platforms.
func fromLayout(a *archive, path string) (*Target, error) {
	raw, err := a.readFile("index.json")
	if err != nil {
		return nil, err
	}
	top, err := newArchiveIndex(a, raw)
	if err != nil {
		return nil, err
	}
	ref := path
	if len(top.manifest.Manifests) > 0 {
		ann := top.manifest.Manifests[0].Annotations
		if name := ann[annotationContainerdName]; name != "" {
			ref = name
		} else if name := ann[annotationRefName]; name != "" {
			ref = name
		}
	}
	if len(top.manifest.Manifests) == 1 && top.manifest.Manifests[0].MediaType.IsIndex() {
		nested, err := top.ImageIndex(top.manifest.Manifests[0].Digest)
		if err != nil {
			return nil, err
		}
		return FromIndex(ref, nested)
	}
	r := newResolver(ref, nil)
	if err := r.walk(top, 0); err != nil {
		return nil, err
	}
	return r.result()
}

// fromDockerSave loads the first image of a docker-save tarball through
// go-containerregistry's tarball package, reading from the indexed file.
func fromDockerSave(a *archive, path string) (*Target, error) {
	opener := func() (io.ReadCloser, error) { return a.openWhole() }
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, fmt.Errorf("loading image: %w: %w", ErrMalformed, err)
	}
	t, err := FromImage(path, img)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return t, nil
}
