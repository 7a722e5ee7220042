package feed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultBase is the OSV bulk export.
const DefaultBase = "https://osv-vulnerabilities.storage.googleapis.com"

// Validators are what a source said about an archive, sent back on the next fetch
// so an unchanged export costs a 304.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// Archive is one fetched all.zip. NotModified means the source confirmed the
// archive behind prev is still current and Data is empty.
type Archive struct {
	Data        []byte
	NotModified bool
	Validators
}

// Fetcher fetches a folder's all.zip, conditionally on what an earlier fetch saw.
// A result over limit bytes is an ErrRejected error.
type Fetcher interface {
	Fetch(ctx context.Context, folder string, prev Validators, limit int64) (*Archive, error)
}

// OpenSource returns the Fetcher for a user-facing source: an http(s) base URL or a
// local directory in OSV bulk-export layout.
func OpenSource(source string, opts ...HTTPOption) (Fetcher, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		return NewHTTPSource(source, opts...), nil
	}
	info, err := os.Stat(source)
	if err != nil {
		return nil, fmt.Errorf("opening advisory source %s: %w", source, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("advisory source %s is neither an http(s) URL nor a directory", source)
	}
	return DirSource(source), nil
}

// DirSource reads `<dir>/<folder>/all.zip`. Its ETag is the archive's sha256, so an
// unchanged file is reported NotModified (it is still read to hash it).
type DirSource string

var _ Fetcher = DirSource("")

// Fetch reads the folder's archive.
func (d DirSource) Fetch(ctx context.Context, folder string, prev Validators, limit int64) (*Archive, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := filepath.Join(string(d), filepath.FromSlash(folder), "all.zip")
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening %s: %w: %w", name, ErrRejected, err)
		}
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	defer f.Close()
	var size int64
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	data, err := readCapped(f, limit, size)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	if etag == prev.ETag {
		return &Archive{NotModified: true, Validators: prev}, nil
	}
	return &Archive{Data: data, Validators: Validators{ETag: etag}}, nil
}

// readCapped reads r whole, failing with ErrRejected past limit bytes. A size hint
// (the Content-Length, the file size) sizes the buffer once instead of doubling it.
func readCapped(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= limit {
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("archive exceeds the %d-byte cap: %w", limit, ErrRejected)
	}
	return buf.Bytes(), nil
}
