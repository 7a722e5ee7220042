package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tidewatch/tidewatch/handler/image"
)

// tarFile is one entry of a test layer.
type tarFile struct {
	name, body, link string
	typeflag         byte
}

func tarBytes(t *testing.T, files []tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: f.typeflag, Linkname: f.link}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}

type walked struct{ Path, Body string }

func walkAll(t *testing.T, layer v1.Layer, opts ...image.WalkOption) ([]walked, image.WalkStats, error) {
	t.Helper()
	var got []walked
	stats, err := image.WalkLayer(context.Background(), layer, func(e image.Entry) error {
		b, err := io.ReadAll(e.Reader)
		if err != nil {
			return err
		}
		got = append(got, walked{e.Path, string(b)})
		return nil
	}, opts...)
	return got, stats, err
}

func TestWalkLayerDecompressesByMagic(t *testing.T) {
	raw := tarBytes(t, []tarFile{
		{name: "./etc/hostname", body: "box\n"},
		{name: "/var/lib/dpkg/status", body: "Package: a\n"},
		{name: "usr/", typeflag: tar.TypeDir},
	})
	want := []walked{{"etc/hostname", "box\n"}, {"var/lib/dpkg/status", "Package: a\n"}, {"usr", ""}}
	tests := []struct {
		name string
		blob []byte
	}{
		{"a gzip layer is walked", gzipBytes(t, raw)},
		{"a zstd layer is walked", zstdBytes(t, raw)},
		{"an uncompressed layer is walked", raw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stats, err := walkAll(t, claimLayer{static.NewLayer(tt.blob, types.OCILayer), sha256Hash(raw)})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			wantStats := image.WalkStats{Files: 3, Bytes: int64(len(raw)), CompressedBytes: int64(len(tt.blob)), DiffID: sha256Hash(raw)}
			if diff := cmp.Diff(wantStats, stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// claimLayer is a blob with the diffID a config claims for it.
type claimLayer struct {
	v1.Layer
	diffID v1.Hash
}

func (l claimLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// sha256Hash is the sha256 digest of b, computed without the code under test.
func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func TestWalkLayerVerifiesTheDiffIDOfTheWholeStream(t *testing.T) {
	raw := tarBytes(t, []tarFile{{name: "etc/hostname", body: "box\n"}})
	trailing := append(append([]byte(nil), raw...), bytes.Repeat([]byte("after the end of the archive "), 100)...)
	other := tarBytes(t, []tarFile{{name: "etc/other", body: "x"}})
	tests := []struct {
		name         string
		blob         []byte
		claim        v1.Hash
		wantMismatch bool
	}{
		{name: "a gzip layer whose config claims its tar's digest walks", blob: gzipBytes(t, raw), claim: sha256Hash(raw)},
		{name: "bytes after the tar's end-of-archive are part of the diffID", blob: gzipBytes(t, trailing), claim: sha256Hash(trailing)},
		{name: "a claim that leaves out the bytes after the end-of-archive fails", blob: gzipBytes(t, trailing), claim: sha256Hash(raw), wantMismatch: true},
		{name: "a claim of another layer's diffID fails", blob: zstdBytes(t, raw), claim: sha256Hash(other), wantMismatch: true},
		{name: "an uncompressed layer claiming its compressed digest is its own diffID", blob: raw, claim: sha256Hash(raw)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stats, err := walkAll(t, claimLayer{static.NewLayer(tt.blob, types.OCILayer), tt.claim})
			if tt.wantMismatch {
				if !errors.Is(err, image.ErrDiffIDMismatch) || !errors.Is(err, image.ErrMalformed) {
					t.Fatalf("WalkLayer error = %v, want ErrDiffIDMismatch matching ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if stats.DiffID != tt.claim {
				t.Errorf("stats.DiffID = %s, want the verified %s", stats.DiffID, tt.claim)
			}
		})
	}
}

// lyingLayer reports a digest its bytes do not have.
type lyingLayer struct {
	v1.Layer
	digest v1.Hash
}

func (l lyingLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// failingLayer's blob stream breaks after some bytes, like a reset connection.
type failingLayer struct {
	v1.Layer
	after int
	err   error
}

func (l failingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(io.MultiReader(io.LimitReader(rc, int64(l.after)), errReader{l.err})), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestWalkLayerErrors(t *testing.T) {
	many := make([]tarFile, 20)
	for i := range many {
		many[i] = tarFile{name: "f" + string(rune('a'+i)), body: string(bytes.Repeat([]byte{'x'}, 1000))}
	}
	blob := gzipBytes(t, tarBytes(t, many))
	good := claimLayer{static.NewLayer(blob, types.OCILayer), sha256Hash(tarBytes(t, many))}
	otherDigest, _, _ := v1.SHA256(bytes.NewReader([]byte("something else")))
	padded := append(tarBytes(t, many[:1]), make([]byte, 1<<20)...)
	trailingBomb := claimLayer{static.NewLayer(gzipBytes(t, padded), types.OCILayer), sha256Hash(padded)}
	errReset := errors.New("connection reset by peer")

	tests := []struct {
		name          string
		layer         v1.Layer
		opts          []image.WalkOption
		wantMalformed bool
		wantLimit     bool
		wantCause     error
	}{
		{name: "a blob that does not match its digest is malformed", layer: lyingLayer{good, otherDigest}, wantMalformed: true},
		{name: "an empty blob is malformed", layer: static.NewLayer(nil, types.OCILayer), wantMalformed: true},
		{name: "bytes that are not a tar are malformed", layer: static.NewLayer(bytes.Repeat([]byte("junk"), 300), types.OCILayer), wantMalformed: true},
		{name: "a gzip stream cut short is malformed", layer: static.NewLayer(blob[:len(blob)/2], types.OCILayer), wantMalformed: true},
		{name: "a source read error is returned unclassified", layer: failingLayer{good, len(blob) / 2, errReset}, wantCause: errReset},
		{name: "too many uncompressed bytes is rejected as a bomb", layer: good, opts: []image.WalkOption{image.WithMaxBytes(5000)}, wantMalformed: true, wantLimit: true},
		{name: "bytes after the end of the tar count against the uncompressed cap", layer: trailingBomb, opts: []image.WalkOption{image.WithMaxBytes(64 << 10)}, wantMalformed: true, wantLimit: true},
		{name: "too many entries is rejected", layer: good, opts: []image.WalkOption{image.WithMaxEntries(5)}, wantMalformed: true, wantLimit: true},
		{name: "reading a file past the per-file cap is rejected", layer: good, opts: []image.WalkOption{image.WithMaxFileBytes(100)}, wantMalformed: true, wantLimit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := walkAll(t, tt.layer, tt.opts...)
			if err == nil {
				t.Fatal("WalkLayer succeeded, want an error")
			}
			if got := errors.Is(err, image.ErrMalformed); got != tt.wantMalformed {
				t.Errorf("errors.Is(%v, ErrMalformed) = %v, want %v", err, got, tt.wantMalformed)
			}
			if got := errors.Is(err, image.ErrLimitExceeded); got != tt.wantLimit {
				t.Errorf("errors.Is(%v, ErrLimitExceeded) = %v, want %v", err, got, tt.wantLimit)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("error %v does not wrap %v", err, tt.wantCause)
			}
		})
	}
}

func TestWalkLayerReportsVisitorErrors(t *testing.T) {
	layer := static.NewLayer(gzipBytes(t, tarBytes(t, []tarFile{{name: "a", body: "1"}})), types.OCILayer)
	errStop := errors.New("stop")
	_, err := image.WalkLayer(context.Background(), layer, func(image.Entry) error { return errStop })
	if !errors.Is(err, errStop) || errors.Is(err, image.ErrMalformed) {
		t.Fatalf("WalkLayer error = %v, want the visitor's error, not ErrMalformed", err)
	}
}

func TestEntryWhiteouts(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		wantDeleted string
		wantOpaque  string
		isWhiteout  bool
		isOpaque    bool
	}{
		{name: "a whiteout file deletes its sibling", path: "var/lib/dpkg/.wh.status", wantDeleted: "var/lib/dpkg/status", isWhiteout: true},
		{name: "a whiteout at the root deletes a top-level path", path: ".wh.opt", wantDeleted: "opt", isWhiteout: true},
		{name: "an opaque marker hides its directory", path: "etc/apt/.wh..wh..opq", wantOpaque: "etc/apt", isOpaque: true},
		{name: "an opaque marker at the root hides the root", path: ".wh..wh..opq", wantOpaque: "", isOpaque: true},
		{name: "an ordinary file is neither", path: "etc/.whatever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := image.Entry{Path: tt.path}
			deleted, ok := e.Whiteout()
			if ok != tt.isWhiteout || deleted != tt.wantDeleted {
				t.Errorf("Whiteout() = %q, %v; want %q, %v", deleted, ok, tt.wantDeleted, tt.isWhiteout)
			}
			dir, ok := e.OpaqueDir()
			if ok != tt.isOpaque || dir != tt.wantOpaque {
				t.Errorf("OpaqueDir() = %q, %v; want %q, %v", dir, ok, tt.wantOpaque, tt.isOpaque)
			}
		})
	}
}

// TestWalkLayerVerdictsCoverEveryByteOfLargeStreams walks layers many times the
// size of the hashing ring (both digests are hashed on their own goroutines while
// the walk goes on): a layer walks only when both streams hash to what is claimed,
// and a claim that differs from the stream in its very last byte, after the visitor
// has seen every entry, still fails the walk as the small-layer tests do.
func TestWalkLayerVerdictsCoverEveryByteOfLargeStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	files := make([]tarFile, 40)
	for i := range files {
		body := make([]byte, 100_000+i)
		for j := range body {
			body[j] = byte(rng.Uint32()) // incompressible: the blob is as large as the tar
		}
		files[i] = tarFile{name: fmt.Sprintf("opt/data/%02d", i), body: string(body)}
	}
	raw := tarBytes(t, files)
	blob := gzipBytes(t, raw)
	lastFlipped := func(b []byte) []byte {
		c := bytes.Clone(b)
		c[len(c)-1] ^= 1
		return c
	}
	tests := []struct {
		name         string
		layer        v1.Layer
		wantErr      bool
		wantMismatch bool
	}{
		{name: "a layer whose blob and tar hash to their claims walks", layer: claimLayer{static.NewLayer(blob, types.OCILayer), sha256Hash(raw)}},
		{name: "a diffID claim differing in the stream's last byte fails as a diffID mismatch",
			layer: claimLayer{static.NewLayer(blob, types.OCILayer), sha256Hash(lastFlipped(raw))}, wantErr: true, wantMismatch: true},
		{name: "a blob digest differing in the blob's last byte fails as malformed",
			layer: lyingLayer{claimLayer{static.NewLayer(blob, types.OCILayer), sha256Hash(raw)}, sha256Hash(lastFlipped(blob))}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stats, err := walkAll(t, tt.layer)
			if len(got) != len(files) {
				t.Errorf("visited %d entries, want all %d before the verdict", len(got), len(files))
			}
			switch {
			case !tt.wantErr && err != nil:
				t.Fatal(err)
			case !tt.wantErr:
				if stats.DiffID != sha256Hash(raw) || stats.Bytes != int64(len(raw)) || stats.CompressedBytes != int64(len(blob)) {
					t.Errorf("stats = %+v, want diffID %s, %d bytes, %d compressed", stats, sha256Hash(raw), len(raw), len(blob))
				}
				for i, f := range files {
					if got[i].Body != f.body {
						t.Errorf("entry %s read back different bytes", f.name)
					}
				}
			case err == nil:
				t.Fatal("WalkLayer succeeded, want an error")
			case !errors.Is(err, image.ErrMalformed) || errors.Is(err, image.ErrDiffIDMismatch) != tt.wantMismatch:
				t.Fatalf("WalkLayer error = %v, want ErrMalformed, ErrDiffIDMismatch %v", err, tt.wantMismatch)
			}
		})
	}
}
