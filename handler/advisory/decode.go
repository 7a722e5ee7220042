package advisory

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sync/errgroup"
)

// decodeArchive decodes every JSON member of an OSV all.zip on all cores. The result
// has one slot per member in archive order; a slot is nil for a non-JSON member or a
// record keep rejects. A member that cannot be inflated or decoded fails the
// whole archive: a partial index would silently hide vulnerabilities.
func decodeArchive(ctx context.Context, data []byte, keep func(*osvRecord) bool) ([]*osvRecord, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("opening zip: %w: %w", ErrNoAdvisories, err)
	}
	zr.RegisterDecompressor(zip.Deflate, newInflaterPool().open)
	out := make([]*osvRecord, len(zr.File))
	workers := runtime.GOMAXPROCS(0)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	// Each worker takes a contiguous share of the members, reusing one buffer;
	// a goroutine per ~1 KiB member would cost more than decoding it.
	share := (len(zr.File) + workers - 1) / workers
	for start := 0; start < len(zr.File); start += share {
		members := zr.File[start:min(start+share, len(zr.File))]
		g.Go(func() error {
			var buf bytes.Buffer
			for i, f := range members {
				if i%256 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				rec, err := decodeMember(f, &buf, keep)
				if err != nil {
					return err
				}
				out[start+i] = rec
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeMember inflates and decodes one zip member, reusing buf between calls; a
// record keep rejects is nil.
func decodeMember(f *zip.File, buf *bytes.Buffer, keep func(*osvRecord) bool) (*osvRecord, error) {
	if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
		return nil, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("opening member %s: %w: %w", f.Name, ErrNoAdvisories, err)
	}
	defer rc.Close()
	buf.Reset()
	if _, err := io.Copy(buf, rc); err != nil {
		return nil, fmt.Errorf("inflating member %s: %w: %w", f.Name, ErrNoAdvisories, err)
	}
	var rec osvRecord
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		return nil, fmt.Errorf("decoding member %s: %w: %w", f.Name, ErrNoAdvisories, err)
	}
	if !keep(&rec) {
		return nil, nil
	}
	return &rec, nil
}

// inflaterPool reuses klauspost inflaters, which are faster than compress/flate's
// but costly to allocate (a 32 KiB window each) for ~1 KiB members.
type inflaterPool struct{ pool sync.Pool }

func newInflaterPool() *inflaterPool { return &inflaterPool{} }

func (p *inflaterPool) open(r io.Reader) io.ReadCloser {
	if fr, ok := p.pool.Get().(io.ReadCloser); ok {
		if err := fr.(flate.Resetter).Reset(r, nil); err == nil {
			return &pooledInflater{ReadCloser: fr, pool: p}
		}
	}
	return &pooledInflater{ReadCloser: flate.NewReader(r), pool: p}
}

// pooledInflater returns its inflater to the pool on Close.
type pooledInflater struct {
	io.ReadCloser
	pool *inflaterPool
}

func (pi *pooledInflater) Close() error {
	err := pi.ReadCloser.Close()
	pi.pool.pool.Put(pi.ReadCloser)
	return err
}
