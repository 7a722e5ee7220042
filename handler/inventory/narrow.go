package inventory

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
)

// narrowed is an osv-scalibr extractor that Tidewatch offers only some of the files
// it would take: wants decides first, then the extractor's own FileRequired. Name and
// Version stay the extractor's, so the Analyzer string names it.
type narrowed struct {
	filesystem.Extractor
	wants func(path string) bool
}

// FileRequired reports whether Tidewatch wants the file and the extractor takes it.
func (n narrowed) FileRequired(api filesystem.FileAPI) bool {
	return n.wants(api.Path()) && n.Extractor.FileRequired(api)
}

// objectBounded is an extractor whose time grows with the number of JSON objects in
// its file times the file's size (osv-scalibr's package-lock.json extractor): the
// file, already bounded in bytes by its guard, is read first, and one holding more
// than maxObjects "{" is refused with an error (the file is then skipped) instead of
// being handed over.
type objectBounded struct {
	filesystem.Extractor
	maxObjects int
}

// Extract counts the file's objects, then runs the extractor over the bytes read.
func (o objectBounded) Extract(ctx context.Context, input *filesystem.ScanInput) (inventory.Inventory, error) {
	data, err := io.ReadAll(input.Reader)
	if err != nil {
		return inventory.Inventory{}, err
	}
	if n := bytes.Count(data, []byte("{")); n > o.maxObjects {
		return inventory.Inventory{}, fmt.Errorf("%d JSON objects, more than the %d read", n, o.maxObjects)
	}
	bounded := *input
	bounded.Reader = bytes.NewReader(data)
	return o.Extractor.Extract(ctx, &bounded)
}

// sizeGuard passes at most limit bytes of a stream through and fails the read that
// would go past them, so an extractor that reads its file whole holds at most limit
// bytes; Err says the bound was hit.
type sizeGuard struct {
	r     io.Reader
	left  int64
	limit int64
	err   error
}

// newSizeGuard returns the guard constructor of a plugin reading at most limit bytes.
func newSizeGuard(limit int64) func(io.Reader) guardedReader {
	return func(r io.Reader) guardedReader { return &sizeGuard{r: r, left: limit, limit: limit} }
}

// Err returns the bound the stream exceeded, nil if none.
func (g *sizeGuard) Err() error { return g.err }

func (g *sizeGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if int64(len(p)) > g.left+1 {
		p = p[:g.left+1]
	}
	n, err := g.r.Read(p)
	if int64(n) > g.left {
		g.err = fmt.Errorf("more than %d MiB", g.limit>>20)
		return int(g.left), g.err
	}
	g.left -= int64(n)
	return n, err
}
