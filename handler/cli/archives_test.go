package cli_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// Archives the hostile-input tests hand to tidewatch scan --archive, built from
// generated layers: docker-save tars (dockerArchive) and OCI layout tars (layoutTar).

// gzipLayer is a layer whose gzip blob a test wrote to a file once, hashing both
// streams on the way, so a 600 MB tar is never held in memory nor hashed twice.
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

// newGzipLayer streams the tar that write produces through gzip into a file.
func newGzipLayer(t *testing.T, write func(io.Writer) error) v1.Layer {
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

// dockerArchive writes a linux/amd64 image of one layer per write as a docker-save
// tar, the kind `tidewatch scan --archive` is handed, and returns its path.
func dockerArchive(t *testing.T, writes ...func(io.Writer) error) string {
	t.Helper()
	var layers []v1.Layer
	for _, write := range writes {
		layers = append(layers, newGzipLayer(t, write))
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs(t, layers)}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hostile.tar")
	if err := tarball.WriteToFile(path, name.MustParseReference("hostile:1"), img); err != nil {
		t.Fatal(err)
	}
	return path
}

func diffIDs(t *testing.T, layers []v1.Layer) []v1.Hash {
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

// tarEntry is one entry of a generated layer: a regular file of size bytes read
// from body, or a link to linkname.
type tarEntry struct {
	name     string
	size     int64
	body     func() io.Reader
	typeflag byte
	linkname string
	mode     int64
}

func regular(name, body string) tarEntry {
	return tarEntry{name: name, size: int64(len(body)), body: func() io.Reader { return strings.NewReader(body) }}
}

func executable(name, body string) tarEntry {
	e := regular(name, body)
	e.mode = 0o755
	return e
}

func link(typeflag byte, name, target string) tarEntry {
	return tarEntry{name: name, typeflag: typeflag, linkname: target}
}

func tarOf(entries ...tarEntry) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, e := range entries {
			hdr := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: e.size, Format: tar.FormatPAX}
			if e.mode != 0 {
				hdr.Mode = e.mode
			}
			if e.typeflag != 0 {
				hdr.Typeflag, hdr.Linkname, hdr.Size = e.typeflag, e.linkname, 0
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if hdr.Size > 0 {
				if _, err := io.Copy(tw, e.body()); err != nil {
					return err
				}
			}
		}
		return tw.Close()
	}
}

// layoutTar writes top as an OCI image layout tar (index.json is top's manifest),
// each blob once, so an index that repeats a child stays as small as it is.
func layoutTar(t *testing.T, top v1.ImageIndex) string {
	t.Helper()
	blobs := map[v1.Hash][]byte{}
	collectIndex(t, top, blobs)
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
	write("index.json", must(t, top.RawManifest))
	for h, b := range blobs {
		write("blobs/"+h.Algorithm+"/"+h.Hex, b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func collectIndex(t *testing.T, idx v1.ImageIndex, blobs map[v1.Hash][]byte) {
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
			blobs[d.Digest] = must(t, child.RawManifest)
			collectIndex(t, child, blobs)
		case !d.MediaType.IsImage():
			l, err := idx.(interface {
				Layer(v1.Hash) (v1.Layer, error)
			}).Layer(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			addLayer(t, l, blobs)
		default:
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			blobs[d.Digest] = must(t, img.RawManifest)
			cfg, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			blobs[cfg] = must(t, img.RawConfigFile)
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				addLayer(t, l, blobs)
			}
		}
	}
}

func addLayer(t *testing.T, l v1.Layer, blobs map[v1.Hash][]byte) {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	blobs[d] = must(t, func() ([]byte, error) {
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	})
}

func must(t *testing.T, read func() ([]byte, error)) []byte {
	t.Helper()
	b, err := read()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sharedIndex is the image index that a shared OCI-layout fixture's index.json names.
func sharedIndex(t *testing.T, fixture string) v1.ImageIndex {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(testenv.Image(t, fixture))
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

// layerDiffIDs lists the diffIDs of img's layers.
func layerDiffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return diffIDs(t, layers)
}
