package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxMetadataBlob caps the size of manifests, indexes and configs read into memory.
const maxMetadataBlob = 8 << 20

// archive is a tar file indexed once: entry name → where its bytes lie in the file.
// Every read opens the file afresh, so an archive needs no Close and is safe for
// concurrent use.
type archive struct {
	path    string
	entries map[string]archiveEntry
}

type archiveEntry struct {
	offset, size int64
}

// indexArchive reads the tar headers of path once, seeking over entry contents.
func indexArchive(file string) (*archive, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("opening archive: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stating archive: %w", err)
	}
	// A SectionReader is an io.Seeker, so tar.Reader seeks over contents instead of
	// reading them, and its position after Next is where the entry's bytes start.
	section := io.NewSectionReader(f, 0, info.Size())
	tr := tar.NewReader(section)
	a := &archive{path: file, entries: map[string]archiveEntry{}}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive headers: %w: %w", ErrMalformed, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		offset, err := section.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("locating %s in archive: %w", hdr.Name, err)
		}
		if offset+hdr.Size > info.Size() {
			return nil, fmt.Errorf("archive entry %s is truncated: %w", hdr.Name, ErrMalformed)
		}
		a.entries[cleanPath(hdr.Name)] = archiveEntry{offset: offset, size: hdr.Size}
	}
	if len(a.entries) == 0 {
		return nil, fmt.Errorf("archive holds no files: %w", ErrMalformed)
	}
	return a, nil
}

// has reports whether the archive holds a regular file called name.
func (a *archive) has(name string) bool {
	_, ok := a.entries[name]
	return ok
}

// open returns a reader over the bytes of entry name.
func (a *archive) open(name string) (io.ReadCloser, int64, error) {
	e, ok := a.entries[name]
	if !ok {
		return nil, 0, fmt.Errorf("archive has no %s: %w", name, ErrMalformed)
	}
	f, err := os.Open(a.path)
	if err != nil {
		return nil, 0, fmt.Errorf("opening archive for %s: %w", name, err)
	}
	return sectionReadCloser{io.NewSectionReader(f, e.offset, e.size), f}, e.size, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}

// readFile reads a small entry whole.
func (a *archive) readFile(name string) ([]byte, error) {
	rc, size, err := a.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxMetadataBlob {
		return nil, fmt.Errorf("%s is %d bytes, more than %d: %w", name, size, maxMetadataBlob, ErrMalformed)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}

// blobName is where an OCI layout keeps the blob with digest h.
func blobName(h v1.Hash) string {
	return path.Join("blobs", h.Algorithm, h.Hex)
}

// readBlob reads a small blob and checks it against its digest.
func (a *archive) readBlob(h v1.Hash) ([]byte, error) {
	b, err := a.readFile(blobName(h))
	if err != nil {
		return nil, err
	}
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm: %w", h, ErrMalformed)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != h.Hex {
		return nil, fmt.Errorf("blob %s has digest sha256:%s: %w", h, got, ErrMalformed)
	}
	return b, nil
}

// decodeJSON decodes b into v, classing a failure as malformed input.
func decodeJSON(what string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w: %w", what, ErrMalformed, err)
	}
	return nil
}

// openWhole returns a reader over the whole tar file.
func (a *archive) openWhole() (io.ReadCloser, error) {
	f, err := os.Open(a.path)
	if err != nil {
		return nil, fmt.Errorf("opening archive: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stating archive: %w", err)
	}
	return sectionReadCloser{io.NewSectionReader(f, 0, info.Size()), f}, nil
}
