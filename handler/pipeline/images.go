package pipeline

import (
	"context"

	"github.com/tidewatch/tidewatch/handler/store"
)

// imagesOf returns the images rows of digest: the row keyed by it (a single-platform
// manifest) or the rows of its platforms (an index).
func (p *Pipeline) imagesOf(ctx context.Context, registry, repository, digest string) ([]store.Image, error) {
	all, err := p.store.ListImages(ctx, registry, repository)
	if err != nil {
		return nil, err
	}
	var out []store.Image
	for _, img := range all {
		if img.Digest == digest || img.IndexDigest == digest {
			out = append(out, img)
		}
	}
	return out, nil
}
