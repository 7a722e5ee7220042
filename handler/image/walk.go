package image

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Entry is one tar entry of a layer, handed to a WalkLayer visitor.
type Entry struct {
	// Path is the cleaned entry name: no leading "./" or "/", never "..".
	Path string
	// Header is the entry's tar header.
	Header *tar.Header
	// Reader yields the entry's contents, at most the walk's per-file cap; reading
	// past the cap fails with ErrLimitExceeded. Valid only during the visit.
	Reader io.Reader
}

// WalkStats describes one walked layer.
type WalkStats struct {
	// Files is the number of tar entries.
	Files int `json:"files"`
	// Bytes is the uncompressed size of the layer tar.
	Bytes int64 `json:"bytes"`
	// CompressedBytes is the size of the blob as read.
	CompressedBytes int64 `json:"compressedBytes"`
	// DiffID is the digest of the whole uncompressed stream, set once it has been
	// checked against the diffID the image config claims.
	DiffID v1.Hash `json:"diffID"`
}

// Default safety caps of WalkLayer. DefaultMaxBytes is exported because extractors
// that follow links into other layers read them under the same cap.
const (
	DefaultMaxBytes     int64 = 16 << 30
	defaultMaxEntries         = 2_000_000
	defaultMaxFileBytes int64 = 256 << 20
)

// WalkOption tunes WalkLayer.
type WalkOption func(*walkConfig)

type walkConfig struct {
	maxBytes     int64
	maxEntries   int
	maxFileBytes int64
}

// WithMaxBytes caps the total uncompressed bytes of a layer (decompression bombs).
func WithMaxBytes(n int64) WalkOption { return func(c *walkConfig) { c.maxBytes = n } }

// WithMaxEntries caps the number of tar entries of a layer.
func WithMaxEntries(n int) WalkOption { return func(c *walkConfig) { c.maxEntries = n } }

// WithMaxFileBytes caps how much of one file a visitor may read.
func WithMaxFileBytes(n int64) WalkOption { return func(c *walkConfig) { c.maxFileBytes = n } }

// WalkLayer streams layer's compressed blob once, decompresses it (gzip, zstd or
// none, by magic bytes), and calls visit for every tar entry in order. Both streams
// are read to their ends, bytes after the tar's end-of-archive included (within the
// WithMaxBytes cap): the blob is checked against the layer digest and the
// uncompressed stream against the diffID the layer claims (from the image config).
// Memory use does not grow with the layer's size.
//
// Errors from reading the blob are returned wrapped, unclassified, so callers can
// retry them; malformed content, a digest mismatch and exceeded caps match
// ErrMalformed, a diffID mismatch ErrDiffIDMismatch too. An error from visit stops
// the walk and is returned wrapped.
func WalkLayer(ctx context.Context, layer v1.Layer, visit func(Entry) error, opts ...WalkOption) (WalkStats, error) {
	cfg := walkConfig{maxBytes: DefaultMaxBytes, maxEntries: defaultMaxEntries, maxFileBytes: defaultMaxFileBytes}
	for _, o := range opts {
		o(&cfg)
	}
	digest, err := layer.Digest()
	if err != nil {
		return WalkStats{}, fmt.Errorf("digesting layer: %w", err)
	}
	claimed, err := layer.DiffID()
	if err != nil {
		return WalkStats{}, fmt.Errorf("reading the claimed diffID of layer %s: %w", digest, err)
	}
	if claimed.Algorithm != "sha256" {
		return WalkStats{}, fmt.Errorf("layer %s claims diffID %s: unsupported algorithm: %w", digest, claimed, ErrMalformed)
	}
	wantSize, err := layer.Size()
	if err != nil {
		wantSize = -1
	}
	rc, err := layer.Compressed()
	if err != nil {
		return WalkStats{}, fmt.Errorf("opening layer %s: %w", digest, err)
	}
	defer rc.Close()

	w := &layerWalk{ctx: ctx, cfg: cfg, digest: digest, wantSize: wantSize, claimed: claimed}
	w.source = newSourceReader(rc, digest)
	defer w.source.close()
	err = w.run(visit)
	stats := WalkStats{Files: w.files, CompressedBytes: w.source.n}
	if w.uncompressed != nil {
		stats.Bytes = w.uncompressed.n
	}
	if err != nil {
		return stats, fmt.Errorf("walking layer %s: %w", digest, w.classify(err))
	}
	stats.DiffID = claimed
	return stats, nil
}

// layerWalk is the state of one WalkLayer call.
type layerWalk struct {
	ctx          context.Context
	cfg          walkConfig
	digest       v1.Hash
	wantSize     int64
	claimed      v1.Hash // the diffID the image config claims
	source       *sourceReader
	diffID       *asyncHash // of the uncompressed stream
	uncompressed *countingReader
	files        int
	// contentErr is the first error a visitor met reading an entry, which a visitor
	// may wrap or swallow; it decides how a visitor's error is classified.
	contentErr error
}

func (w *layerWalk) run(visit func(Entry) error) error {
	buffered := bufio.NewReaderSize(w.source, 256<<10)
	decompressed, err := decompress(buffered)
	if err != nil {
		return err
	}
	defer decompressed.Close()
	// Three goroutines share the work: this one walks the tar and runs the
	// visitor, ahead gunzips (reading, counting and hashing the blob), and each
	// digest is hashed on its own (asyncHash); the verdicts below wait for every
	// byte to be hashed. ahead is stopped (deferred, and before the compressed
	// tail is read here) before anything it reads is touched on this goroutine.
	ahead := newReadAhead(decompressed)
	defer ahead.close()
	w.diffID = newAsyncHash(sha256.New())
	defer w.diffID.close()
	w.uncompressed = &countingReader{r: io.TeeReader(ahead, w.diffID), limit: w.cfg.maxBytes}
	tr := tar.NewReader(w.uncompressed)
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar header: %w", err)
		}
		w.files++
		if w.files > w.cfg.maxEntries {
			return fmt.Errorf("more than %d entries: %w", w.cfg.maxEntries, ErrLimitExceeded)
		}
		p := cleanPath(hdr.Name)
		if p == "" {
			continue
		}
		var contents io.Reader = tr
		if hdr.Size > w.cfg.maxFileBytes {
			contents = &cappedReader{r: tr, left: w.cfg.maxFileBytes, path: p}
		}
		contents = &entryReader{r: contents, walk: w}
		if err := visit(Entry{Path: p, Header: hdr, Reader: contents}); err != nil {
			return visitError{fmt.Errorf("visiting %s: %w", p, err)}
		}
	}
	// Read both streams to their ends: the decompressor checks its trailer, the blob
	// reader (ours and, remotely, go-containerregistry's) checks the digest, and the
	// diffID covers every uncompressed byte, not only the tar entries.
	if _, err := io.Copy(io.Discard, w.uncompressed); err != nil {
		return fmt.Errorf("reading past the end of the tar: %w", err)
	}
	ahead.close() // it has met the decompressed stream's end: buffered is ours again
	if _, err := io.Copy(io.Discard, buffered); err != nil {
		return fmt.Errorf("reading past the end of the compressed stream: %w", err)
	}
	if err := w.source.verify(w.wantSize); err != nil {
		return err
	}
	if actual := "sha256:" + hex.EncodeToString(w.diffID.Sum()); actual != w.claimed.String() {
		return fmt.Errorf("uncompressed stream has diffID %s, config claims %s: %w", actual, w.claimed, ErrDiffIDMismatch)
	}
	return nil
}

// visitError marks an error returned by the visitor, which is passed on unclassified.
type visitError struct{ err error }

func (e visitError) Error() string { return e.err.Error() }
func (e visitError) Unwrap() error { return e.err }

// classify decides whether err is the blob source failing (returned as is so the
// caller may retry), a digest mismatch, or malformed content (both ErrMalformed).
func (w *layerWalk) classify(err error) error {
	if w.source.err != nil {
		if w.source.mismatched(w.wantSize) {
			return fmt.Errorf("blob does not match its digest: %w: %w", ErrMalformed, w.source.err)
		}
		return fmt.Errorf("reading blob after %d bytes: %w", w.source.n, w.source.err)
	}
	var ve visitError
	if errors.As(err, &ve) && w.contentErr != nil {
		// The visitor failed because the layer's contents could not be read.
		err = fmt.Errorf("%w (reading contents: %w)", err, w.contentErr)
	}
	switch {
	case errors.Is(err, ErrMalformed), errors.As(err, &ve) && w.contentErr == nil:
		return err
	case errors.Is(err, ErrLimitExceeded):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
}

// entryReader records the first content read error of a walk.
type entryReader struct {
	r    io.Reader
	walk *layerWalk
}

func (e *entryReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.walk.contentErr == nil {
		e.walk.contentErr = err
	}
	return n, err
}

// cleanPath turns a tar entry name into a root-relative path without "." or "..".
func cleanPath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
