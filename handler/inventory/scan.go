package inventory

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tidewatch/tidewatch/handler/image"
)

// Scan inventories one platform image: each layer's result comes from cache or
// from AnalyzeLayer (and is then cached), and the results are merged.
func Scan(ctx context.Context, img image.PlatformImage, cache LayerCache) (*Inventory, error) {
	layers, err := img.Image.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers of %s: %w", img.Digest, err)
	}
	results := make([]*LayerResult, len(layers))
	for i, layer := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		results[i], err = ScanLayer(ctx, layer, cache)
		if err != nil {
			return nil, fmt.Errorf("scanning %s layer %d: %w", img.Digest, i, err)
		}
	}
	inv, err := Merge(results)
	if err != nil {
		return nil, fmt.Errorf("merging %s: %w", img.Digest, err)
	}
	return inv, nil
}

// ScanLayer returns the cached result for layer under the current Analyzer, or
// analyzes the layer and caches the result. It is the unit a caller retries.
func ScanLayer(ctx context.Context, layer v1.Layer, cache LayerCache) (*LayerResult, error) {
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading layer diffID: %w", err)
	}
	cached, ok, err := cache.GetLayer(ctx, diffID.String(), Analyzer)
	if err != nil {
		return nil, fmt.Errorf("looking up layer %s in cache: %w", diffID, err)
	}
	if ok {
		return cached, nil
	}
	result, err := AnalyzeLayer(ctx, layer)
	if err != nil {
		return nil, err
	}
	if err := cache.PutLayer(ctx, result); err != nil {
		return nil, fmt.Errorf("caching layer %s: %w", diffID, err)
	}
	return result, nil
}
