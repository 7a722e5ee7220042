package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// sourceReader reads the compressed blob, hashing (on a second goroutine, see
// asyncHash) and counting what passes and remembering the first error of the
// underlying stream, so a walk can tell a failing source from malformed content.
// close must be called once it is no longer read.
type sourceReader struct {
	r      io.Reader
	digest v1.Hash
	hasher *asyncHash // nil when the digest algorithm is not sha256
	n      int64
	err    error
}

func newSourceReader(r io.Reader, digest v1.Hash) *sourceReader {
	s := &sourceReader{r: r, digest: digest}
	if digest.Algorithm == "sha256" {
		s.hasher = newAsyncHash(sha256.New())
	}
	return s
}

// close stops the hasher; the digest of what was read stays available to sum.
func (s *sourceReader) close() {
	if s.hasher != nil {
		s.hasher.close()
	}
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.n += int64(n)
		if s.hasher != nil {
			s.hasher.Write(p[:n])
		}
	}
	if err != nil && !errors.Is(err, io.EOF) && s.err == nil {
		s.err = err
	}
	return n, err
}

// sum is the digest of every byte read so far; it waits for the hasher.
func (s *sourceReader) sum() string {
	return s.digest.Algorithm + ":" + hex.EncodeToString(s.hasher.Sum())
}

// verify checks the fully read blob against its digest and expected size.
func (s *sourceReader) verify(wantSize int64) error {
	if wantSize >= 0 && s.n != wantSize {
		return fmt.Errorf("blob is %d bytes, expected %d: %w", s.n, wantSize, ErrMalformed)
	}
	if s.hasher == nil {
		return nil
	}
	if got := s.sum(); got != s.digest.String() {
		return fmt.Errorf("blob has digest %s: %w", got, ErrMalformed)
	}
	return nil
}

// mismatched reports, after the source failed, whether the failure is a digest
// mismatch of a complete blob rather than a broken transfer: all bytes arrived and
// they hash to something else.
func (s *sourceReader) mismatched(wantSize int64) bool {
	return s.hasher != nil && wantSize >= 0 && s.n >= wantSize && s.sum() != s.digest.String()
}

// countingReader counts bytes and fails once more than limit have passed.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		return n, fmt.Errorf("more than %d uncompressed bytes: %w", c.limit, ErrLimitExceeded)
	}
	return n, err
}

// cappedReader lets a visitor read at most left bytes of a larger file.
type cappedReader struct {
	r    io.Reader
	left int64
	path string
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("reading %s: file exceeds the per-file cap: %w", c.path, ErrLimitExceeded)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
