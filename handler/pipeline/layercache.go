package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/store"
)

// storeLayerCache keeps per-layer results in the layers table and blobs, so a layer
// shared by many images is analyzed once registry-wide. The compressed digests a
// result may be trusted for travel in its JSON (inventory.LayerResult.Digests) and
// are checked by inventory.ScanLayer.
type storeLayerCache struct{ layers layerBlobs }

var _ inventory.LayerCache = storeLayerCache{}

func (p *Pipeline) layerCache() inventory.LayerCache { return storeLayerCache{p.layers} }

func (c storeLayerCache) GetLayer(ctx context.Context, diffID, analyzer string) (*inventory.LayerResult, bool, error) {
	data, err := c.layers.GetLayer(ctx, diffID, analyzer)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var r inventory.LayerResult
	if err := json.Unmarshal(data, &r); err != nil {
		// A corrupt cache entry is re-analyzed, not trusted.
		return nil, false, nil
	}
	return &r, true, nil
}

func (c storeLayerCache) PutLayer(ctx context.Context, r *inventory.LayerResult) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding layer result: %w", err)
	}
	return c.layers.PutLayer(ctx, r.DiffID, r.Analyzer, data)
}
