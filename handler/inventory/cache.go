package inventory

import (
	"context"
	"sync"
)

// LayerCache stores LayerResults by (diffID, analyzer version).
type LayerCache interface {
	// GetLayer returns the cached result, or false when there is none.
	GetLayer(ctx context.Context, diffID, analyzer string) (*LayerResult, bool, error)
	// PutLayer stores a result under its DiffID and Analyzer.
	PutLayer(ctx context.Context, result *LayerResult) error
}

// MemoryCache is a LayerCache in memory, safe for concurrent use. Results are shared,
// not copied: callers must not modify them.
type MemoryCache struct {
	mu      sync.Mutex
	results map[layerCacheKey]*LayerResult
}

type layerCacheKey struct{ diffID, analyzer string }

var _ LayerCache = (*MemoryCache)(nil)

// NewMemoryCache returns an empty MemoryCache.
func NewMemoryCache() *MemoryCache {
	return &MemoryCache{results: map[layerCacheKey]*LayerResult{}}
}

// GetLayer implements LayerCache.
func (c *MemoryCache) GetLayer(_ context.Context, diffID, analyzer string) (*LayerResult, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.results[layerCacheKey{diffID, analyzer}]
	return r, ok, nil
}

// PutLayer implements LayerCache.
func (c *MemoryCache) PutLayer(_ context.Context, result *LayerResult) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results[layerCacheKey{result.DiffID, result.Analyzer}] = result
	return nil
}
