package inventory

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// LayerCache stores LayerResults by (diffID, analyzer version).
type LayerCache interface {
	// GetLayer returns the cached result, or false when there is none.
	GetLayer(ctx context.Context, diffID, analyzer string) (*LayerResult, bool, error)
	// PutLayer stores a result under its DiffID and Analyzer.
	PutLayer(ctx context.Context, result *LayerResult) error
}

// MemoryCache is a LayerCache in memory, safe for concurrent use. Like the stored
// cache it keeps each result as gzipped JSON, so a scan of many layers through it
// holds their results at a fraction of their decoded size, and every GetLayer
// returns a fresh copy the caller may modify.
type MemoryCache struct {
	mu      sync.Mutex
	results map[layerCacheKey][]byte
}

type layerCacheKey struct{ diffID, analyzer string }

var _ LayerCache = (*MemoryCache)(nil)

// NewMemoryCache returns an empty MemoryCache.
func NewMemoryCache() *MemoryCache {
	return &MemoryCache{results: map[layerCacheKey][]byte{}}
}

// GetLayer implements LayerCache.
func (c *MemoryCache) GetLayer(_ context.Context, diffID, analyzer string) (*LayerResult, bool, error) {
	c.mu.Lock()
	data, ok := c.results[layerCacheKey{diffID, analyzer}]
	c.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, false, fmt.Errorf("decoding cached layer %s: %w", diffID, err)
	}
	var r LayerResult
	if err := json.NewDecoder(zr).Decode(&r); err != nil {
		return nil, false, fmt.Errorf("decoding cached layer %s: %w", diffID, err)
	}
	return &r, true, nil
}

// PutLayer implements LayerCache.
func (c *MemoryCache) PutLayer(_ context.Context, result *LayerResult) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, flate.BestSpeed)
	if err != nil {
		return fmt.Errorf("encoding layer %s: %w", result.DiffID, err)
	}
	if err := json.NewEncoder(zw).Encode(result); err != nil {
		return fmt.Errorf("encoding layer %s: %w", result.DiffID, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("encoding layer %s: %w", result.DiffID, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results[layerCacheKey{result.DiffID, result.Analyzer}] = buf.Bytes()
	return nil
}
