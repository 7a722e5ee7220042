package testenv

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Builders of the layers and archives hostile-input tests hand to the scanner, written
// with archive/tar, compress/gzip and go-containerregistry only.

// TarEntry is one entry of a generated layer: a regular file of Size bytes read from
// Body, or (with Typeflag set) a link to Linkname. Mode 0 means 0644.
type TarEntry struct {
	Name     string
	Size     int64
	Body     func() io.Reader
	Typeflag byte
	Linkname string
	Mode     int64
}

// File is a regular file holding body.
func File(name, body string) TarEntry {
	return TarEntry{Name: name, Size: int64(len(body)), Body: func() io.Reader { return strings.NewReader(body) }}
}

// Executable is a regular file of mode 0755 holding body.
func Executable(name, body string) TarEntry {
	e := File(name, body)
	e.Mode = 0o755
	return e
}

// Symlink is a symbolic link name -> target.
func Symlink(name, target string) TarEntry {
	return TarEntry{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}
}

// Hardlink is a hard link name -> target.
func Hardlink(name, target string) TarEntry {
	return TarEntry{Name: name, Typeflag: tar.TypeLink, Linkname: target}
}

// Tar returns a writer of a PAX tar of entries, in order, so a test can stream a
// layer of any size without holding it.
func Tar(entries ...TarEntry) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, e := range entries {
			hdr := &tar.Header{Name: e.Name, Mode: 0o644, Typeflag: tar.TypeReg, Size: e.Size, Format: tar.FormatPAX}
			if e.Mode != 0 {
				hdr.Mode = e.Mode
			}
			if e.Typeflag != 0 {
				hdr.Typeflag, hdr.Linkname, hdr.Size = e.Typeflag, e.Linkname, 0
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("writing tar header of %s: %w", e.Name, err)
			}
			if hdr.Size > 0 {
				if _, err := io.Copy(tw, e.Body()); err != nil {
					return fmt.Errorf("writing tar entry %s: %w", e.Name, err)
				}
			}
		}
		return tw.Close()
	}
}

// GNUSparseEntry writes an old-GNU sparse tar entry (type 'S', which archive/tar
// cannot write) to w: data stored at offset 0, then a hole up to realSize. It writes
// no end-of-archive marker.
func GNUSparseEntry(w io.Writer, name string, data []byte, realSize int64) error {
	var hdr [512]byte
	octal := func(field []byte, v int64) {
		s := strconv.FormatInt(v, 8)
		copy(field, strings.Repeat("0", len(field)-1-len(s))+s)
	}
	copy(hdr[0:100], name)
	octal(hdr[100:108], 0o644)
	octal(hdr[108:116], 0)
	octal(hdr[116:124], 0)
	octal(hdr[124:136], int64(len(data)))
	octal(hdr[136:148], 0)
	hdr[156] = 'S'
	copy(hdr[257:265], "ustar  \x00")
	octal(hdr[386:398], 0)                // sparse[0].offset
	octal(hdr[398:410], int64(len(data))) // sparse[0].numbytes
	octal(hdr[483:495], realSize)         // realsize
	copy(hdr[148:156], "        ")
	var sum int64
	for _, b := range hdr {
		sum += int64(b)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	padded := make([]byte, (len(data)+511)/512*512)
	copy(padded, data)
	_, err := w.Write(padded)
	return err
}

// RepeatReader yields S over and over, never ending.
type RepeatReader struct {
	S   string
	off int
}

// Read fills p with the next bytes of the endless repetition of S.
func (r *RepeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.S[r.off:])
		n += c
		r.off = (r.off + c) % len(r.S)
	}
	return n, nil
}

// gzipLayer is a layer whose gzip blob was written to a file once, both streams
// hashed on the way, so a 600 MB tar is never held in memory nor hashed twice.
type gzipLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
}

func (l *gzipLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *gzipLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *gzipLayer) Size() (int64, error)                { return l.size, nil }
func (l *gzipLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (l *gzipLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
func (l *gzipLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

// countingHash is a sha256 that counts what it hashed.
type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.Hash.Write(p) }

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// GzipLayer streams the tar that write produces through gzip into a file of the
// test's temporary directory and returns it as a docker layer.
func GzipLayer(t testing.TB, write func(io.Writer) error) v1.Layer {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "layer-*.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	compressed, uncompressed := &countingHash{Hash: sha256.New()}, &countingHash{Hash: sha256.New()}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(f, compressed), gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(io.MultiWriter(zw, uncompressed)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return &gzipLayer{path: f.Name(), digest: sha256Hash(compressed), diffID: sha256Hash(uncompressed), size: compressed.n}
}

// DockerArchive writes a linux/amd64 image of one gzip layer per write as a
// docker-save tar, the kind `tidewatch scan --archive` is handed, and returns its path.
func DockerArchive(t testing.TB, writes ...func(io.Writer) error) string {
	t.Helper()
	var layers []v1.Layer
	for _, write := range writes {
		layers = append(layers, GzipLayer(t, write))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: DiffIDs(t, layers)}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hostile.tar")
	if err := tarball.WriteToFile(path, name.MustParseReference("hostile:1"), img); err != nil {
		t.Fatal(err)
	}
	return path
}

// DiffIDs lists the diffIDs of layers.
func DiffIDs(t testing.TB, layers []v1.Layer) []v1.Hash {
	t.Helper()
	var out []v1.Hash
	for _, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// LayoutTar writes top as an OCI image layout (index.json is top's manifest) in a
// tar, the form `tidewatch scan --archive` reads, and returns its path. Unlike
// layout.Write it writes each blob once, so an index bomb stays small on disk too.
func LayoutTar(t testing.TB, top v1.ImageIndex) string {
	t.Helper()
	blobs := map[v1.Hash][]byte{}
	addIndexBlobs(t, top, blobs)
	path := filepath.Join(t.TempDir(), "layout.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	write := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	write("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	write("index.json", mustRead(t, top.RawManifest))
	for h, b := range blobs {
		write("blobs/"+h.Algorithm+"/"+h.Hex, b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// addIndexBlobs adds the manifests, configs and layers below idx to blobs, once each.
// A descriptor that is neither an index nor an image is read as a layer of idx.
func addIndexBlobs(t testing.TB, idx v1.ImageIndex, blobs map[v1.Hash][]byte) {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if _, ok := blobs[d.Digest]; ok {
			continue
		}
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			blobs[d.Digest] = mustRead(t, child.RawManifest)
			addIndexBlobs(t, child, blobs)
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			blobs[d.Digest] = mustRead(t, img.RawManifest)
			cfg, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			blobs[cfg] = mustRead(t, img.RawConfigFile)
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				addLayerBlob(t, l, blobs)
			}
		default:
			l, err := idx.(interface {
				Layer(v1.Hash) (v1.Layer, error)
			}).Layer(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			addLayerBlob(t, l, blobs)
		}
	}
}

func addLayerBlob(t testing.TB, l v1.Layer, blobs map[v1.Hash][]byte) {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := blobs[d]; ok {
		return
	}
	blobs[d] = mustRead(t, func() ([]byte, error) {
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	})
}

func mustRead(t testing.TB, read func() ([]byte, error)) []byte {
	t.Helper()
	b, err := read()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FixtureIndex is the image index that index.json of the shared OCI-layout fixture
// name (as for Image) names, read with go-containerregistry's layout package.
func FixtureIndex(t testing.TB, name string) v1.ImageIndex {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(Image(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
