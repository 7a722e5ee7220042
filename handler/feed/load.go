package feed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/tidewatch/tidewatch/handler/advisory"
)

// Generation is one generation read through its pointer. It is an
// advisory.Source: "<Folder>/all.zip" opens that folder's .idx blob.
type Generation struct {
	Pointer Pointer
	blobs   BlobReader
}

var _ advisory.Source = (*Generation)(nil)

// OpenCurrent reads the pointer; ErrNotFound when no sync has completed yet.
func OpenCurrent(ctx context.Context, blobs BlobReader) (*Generation, error) {
	data, _, err := blobs.Get(ctx, PointerName)
	if err != nil {
		return nil, fmt.Errorf("reading advisory pointer: %w", err)
	}
	p, err := decodePointer(data)
	if err != nil {
		return nil, err
	}
	return &Generation{Pointer: *p, blobs: blobs}, nil
}

// Open opens "<Folder>/all.zip" of the generation; a folder the generation does
// not hold wraps fs.ErrNotExist.
func (g *Generation) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	folder, ok := strings.CutSuffix(name, "/all.zip")
	f, held := g.Pointer.Folders[folder]
	if !ok || !held {
		return nil, fmt.Errorf("generation %s has no %s: %w", g.Pointer.Generation, name, fs.ErrNotExist)
	}
	data, _, err := g.blobs.Get(ctx, f.Blob)
	if err != nil {
		return nil, fmt.Errorf("reading %s of generation %s: %w", f.Blob, g.Pointer.Generation, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Load reads the current generation's index of the given ecosystems; opts are
// passed to advisory.LoadFrom (advisory.WithSeverityFolder reads the generation's
// severity folder).
func Load(ctx context.Context, blobs BlobReader, ecosystems []string, opts ...advisory.LoadOption) (*advisory.Index, *Generation, error) {
	g, err := OpenCurrent(ctx, blobs)
	if err != nil {
		return nil, nil, err
	}
	idx, err := g.Load(ctx, ecosystems, opts...)
	if err != nil {
		return nil, nil, err
	}
	return idx, g, nil
}

// Load reads the generation's index of the given ecosystems.
func (g *Generation) Load(ctx context.Context, ecosystems []string, opts ...advisory.LoadOption) (*advisory.Index, error) {
	idx, err := advisory.LoadFrom(ctx, g, ecosystems, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading advisory generation %s: %w", g.Pointer.Generation, err)
	}
	return idx, nil
}
