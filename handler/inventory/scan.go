package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tidewatch/tidewatch/handler/image"
)

// ScanOption tunes Scan and ScanLayer.
type ScanOption func(*scanConfig)

type scanConfig struct {
	retry func(ctx context.Context, op func(ctx context.Context) error) error
}

// WithRetry runs each layer's fetch-and-analyze inside retry (e.g. registry.Retry
// with a policy), so a blob stream broken mid-way is fetched again from the start.
// Cache lookups and writes are not retried by it.
func WithRetry(retry func(ctx context.Context, op func(ctx context.Context) error) error) ScanOption {
	return func(c *scanConfig) { c.retry = retry }
}

func newScanConfig(opts []ScanOption) scanConfig {
	c := scanConfig{retry: func(ctx context.Context, op func(ctx context.Context) error) error { return op(ctx) }}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Scan inventories one platform image: each layer's result comes from cache or
// from AnalyzeLayer (and is then cached), and is merged as soon as it is known, so
// only one layer's result is held besides the merged view.
func Scan(ctx context.Context, img image.PlatformImage, cache LayerCache, opts ...ScanOption) (*Inventory, error) {
	layers, err := img.Image.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers of %s: %w", img.Digest, err)
	}
	m := newMerger()
	for i, layer := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		result, err := ScanLayer(ctx, layer, cache, opts...)
		if err != nil {
			return nil, fmt.Errorf("scanning %s layer %d: %w", img.Digest, i, err)
		}
		if err := m.add(result); err != nil {
			return nil, fmt.Errorf("merging %s: %w", img.Digest, err)
		}
	}
	if len(m.crossLayerLinks()) > 0 {
		ps, err := plugins()
		if err != nil {
			return nil, err
		}
		if err := followCrossLayerLinks(ctx, layers, m, ps, newScanConfig(opts)); err != nil {
			return nil, fmt.Errorf("scanning %s: %w", img.Digest, err)
		}
	}
	return m.inventory(), nil
}

// ScanLayer returns the cached result for layer under the current Analyzer, or
// analyzes the layer and caches the result. It is the unit a caller retries.
//
// The cache is keyed by the DiffID the image config claims, which anyone who can
// push may claim. So a cached result is used only when the layer's compressed
// digest is one whose walk produced it (LayerResult.Digests); otherwise the layer is
// analyzed — the walk checks the blob against that digest — and only a successful
// walk is cached: its digest is added to an equal cached result, or its result
// replaces a different one.
func ScanLayer(ctx context.Context, layer v1.Layer, cache LayerCache, opts ...ScanOption) (*LayerResult, error) {
	cfg := newScanConfig(opts)
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, fmt.Errorf("reading layer diffID: %w", err)
	}
	digest, err := layer.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading layer digest: %w", err)
	}
	cached, ok, err := cache.GetLayer(ctx, diffID.String(), Analyzer)
	if err != nil {
		return nil, fmt.Errorf("looking up layer %s in cache: %w", diffID, err)
	}
	if ok && slices.Contains(cached.Digests, digest.String()) {
		return cached, nil
	}
	var result *LayerResult
	err = cfg.retry(ctx, func(ctx context.Context) error {
		var aerr error
		result, aerr = AnalyzeLayer(ctx, layer)
		return aerr
	})
	if err != nil {
		return nil, err
	}
	if ok && sameContents(cached, result) {
		result.Digests = append(slices.Clone(cached.Digests), result.Digests...)
	}
	if err := cache.PutLayer(ctx, result); err != nil {
		return nil, fmt.Errorf("caching layer %s: %w", diffID, err)
	}
	return result, nil
}

// sameContents reports whether two results of one DiffID describe the same files,
// whichever compressed digests produced them.
func sameContents(a, b *LayerResult) bool {
	strip := func(r *LayerResult) []byte {
		c := *r
		c.Digests = nil
		data, err := json.Marshal(&c)
		if err != nil {
			return nil
		}
		return data
	}
	x, y := strip(a), strip(b)
	return x != nil && bytes.Equal(x, y)
}
