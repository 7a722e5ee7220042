package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// BlobReader reads blobs; what Load needs.
type BlobReader interface {
	// Get returns a blob and its ETag, or an error wrapping ErrNotFound.
	Get(ctx context.Context, name string) (data []byte, etag string, err error)
}

// Blobs is where generations and the pointer are written: the advisories blob
// container in the function, a local directory in the CLI.
type Blobs interface {
	BlobReader
	// Put writes a blob, replacing it.
	Put(ctx context.Context, name string, data []byte) error
	// PutIf writes a blob only if its ETag is still etag, or, with etag "", only if
	// it does not exist; otherwise it fails with ErrConflict.
	PutIf(ctx context.Context, name string, data []byte, etag string) error
	// Delete removes a blob; a missing one is not an error.
	Delete(ctx context.Context, name string) error
}

// Dir is a Blobs in a local directory: blob "Debian/x.idx" is the file
// <dir>/Debian/x.idx. Writes go through a temporary file and a rename, so a
// reader never sees half a blob; PutIf holds an exclusive flock on <dir>/.lock,
// so it is safe between processes on one machine. The ETag is the content's
// sha256.
type Dir string

var _ Blobs = Dir("")

// Get reads a blob.
func (d Dir) Get(ctx context.Context, name string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(d.path(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("reading %s: %w", d.path(name), ErrNotFound)
		}
		return nil, "", fmt.Errorf("reading %s: %w", d.path(name), err)
	}
	return data, contentETag(data), nil
}

// Put writes a blob atomically.
func (d Dir) Put(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path := d.path(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// PutIf writes a blob if its content is still the one etag names.
func (d Dir) PutIf(ctx context.Context, name string, data []byte, etag string) error {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return fmt.Errorf("locking %s: %w", d, err)
	}
	lock, err := os.OpenFile(filepath.Join(string(d), ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("locking %s: %w", d, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", d, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	_, current, err := d.Get(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		current = ""
	case err != nil:
		return err
	}
	if current != etag {
		return fmt.Errorf("writing %s: %w", d.path(name), ErrConflict)
	}
	return d.Put(ctx, name, data)
}

// Delete removes a blob.
func (d Dir) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(d.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s: %w", d.path(name), err)
	}
	return nil
}

func (d Dir) path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

func contentETag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}
