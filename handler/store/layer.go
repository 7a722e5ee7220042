package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// maxUncompressed caps what a stored gzip blob may expand to, so a corrupt or hostile
// blob cannot exhaust memory.
const maxUncompressed = 512 << 20

// LayerOption adds summary columns to a layers row.
type LayerOption func(entity)

// WithLayerCounts records how many packages, files and whiteouts the layer result
// holds, for operators reading the table.
func WithLayerCounts(packages, files, whiteouts int) LayerOption {
	return func(e entity) {
		e.setInt32("Packages", packages)
		e.setInt32("Files", files)
		e.setInt32("Whiteouts", whiteouts)
	}
}

// layerBlobName is "<diffID>/<analyzer>.json.gz" inside the layers container.
func layerBlobName(diffID, analyzer string) string {
	return diffID + "/" + analyzer + ".json.gz"
}

// PutLayer stores one layer's extraction result (JSON) for an analyzer version:
// gzipped in blob layers/<diffID>/<analyzer>.json.gz, then a layers row pointing at
// it. The row is written last, so a row always means a complete blob.
func (s *Store) PutLayer(ctx context.Context, diffID, analyzer string, data []byte, opts ...LayerOption) error {
	name := layerBlobName(diffID, analyzer)
	gz, err := gzipBytes(data)
	if err != nil {
		return fmt.Errorf("storing layer %s: %w", diffID, err)
	}
	if err := s.layerBlobs.Upload(ctx, name, gz); err != nil {
		return fmt.Errorf("storing layer %s: %w", diffID, err)
	}
	e := newEntity(EscapeKey(diffID), EscapeKey(analyzer))
	e.setString("BlobRef", ContainerLayers+"/"+name)
	e.setInt64("Bytes", int64(len(data)))
	for _, o := range opts {
		o(e)
	}
	if err := upsert(ctx, s.layers, e, aztables.UpdateModeReplace); err != nil {
		return fmt.Errorf("storing layer %s row: %w", diffID, err)
	}
	return nil
}

// GetLayer returns the stored extraction result of diffID for analyzer; ErrNotFound
// when this analyzer version has not processed the layer.
func (s *Store) GetLayer(ctx context.Context, diffID, analyzer string) ([]byte, error) {
	r, err := getRow(ctx, s.layers, EscapeKey(diffID), EscapeKey(analyzer))
	if err != nil {
		return nil, fmt.Errorf("reading layer %s (%s): %w", diffID, analyzer, err)
	}
	ref := r.str("BlobRef")
	name, ok := strings.CutPrefix(ref, ContainerLayers+"/")
	if !ok {
		return nil, fmt.Errorf("reading layer %s (%s): blob ref %q is not in container %s", diffID, analyzer, ref, ContainerLayers)
	}
	data, err := s.readGzipBlob(ctx, s.layerBlobs, name)
	if err != nil {
		return nil, fmt.Errorf("reading layer %s (%s): %w", diffID, analyzer, err)
	}
	return data, nil
}

// PutInventory stores an image's merged inventory (JSON) gzipped as
// inventories/<platformDigest>.json.gz and returns its reference for the image row's
// InventoryRef.
func (s *Store) PutInventory(ctx context.Context, platformDigest string, data []byte) (string, error) {
	gz, err := gzipBytes(data)
	if err != nil {
		return "", fmt.Errorf("storing inventory of %s: %w", platformDigest, err)
	}
	name := platformDigest + ".json.gz"
	if err := s.inventories.Upload(ctx, name, gz); err != nil {
		return "", fmt.Errorf("storing inventory of %s: %w", platformDigest, err)
	}
	return ContainerInventories + "/" + name, nil
}

// GetInventory returns the inventory JSON stored under ref (from [Store.PutInventory]);
// ErrNotFound when absent.
func (s *Store) GetInventory(ctx context.Context, ref string) ([]byte, error) {
	name, ok := strings.CutPrefix(ref, ContainerInventories+"/")
	if !ok {
		return nil, fmt.Errorf("reading inventory %q: not an inventories reference", ref)
	}
	data, err := s.readGzipBlob(ctx, s.inventories, name)
	if err != nil {
		return nil, fmt.Errorf("reading inventory %q: %w", ref, err)
	}
	return data, nil
}

func (s *Store) readGzipBlob(ctx context.Context, c *Container, name string) ([]byte, error) {
	body, err := c.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := gunzipLimited(body)
	if err != nil {
		return nil, fmt.Errorf("gunzipping %s/%s: %w", c.Name(), name, err)
	}
	return data, nil
}

// gunzipLimited reads the gzip stream r expanded, at most maxUncompressed bytes.
func gunzipLimited(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxUncompressed+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxUncompressed {
		return nil, errTooLarge
	}
	return data, nil
}

var errTooLarge = errors.New("expands beyond the size limit")

func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("gzipping: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzipping: %w", err)
	}
	return buf.Bytes(), nil
}
