package inventory_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// streamedLayer is an uncompressed layer whose tar is generated each time it is
// read, so a test can hand the scanner a 600 MB file without holding it.
type streamedLayer struct {
	write  func(w io.Writer) error
	digest v1.Hash
	size   int64
}

func newStreamedLayer(t *testing.T, write func(w io.Writer) error) *streamedLayer {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, pipe(write))
	if err != nil {
		t.Fatal(err)
	}
	return &streamedLayer{write: write, digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}, size: n}
}

func pipe(write func(w io.Writer) error) io.ReadCloser {
	r, w := io.Pipe()
	go func() { w.CloseWithError(write(w)) }()
	return r
}

func (l *streamedLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *streamedLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *streamedLayer) Compressed() (io.ReadCloser, error)   { return pipe(l.write), nil }
func (l *streamedLayer) Uncompressed() (io.ReadCloser, error) { return pipe(l.write), nil }
func (l *streamedLayer) Size() (int64, error)                 { return l.size, nil }
func (l *streamedLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }

// entry is one tar entry of a generated layer: a regular file of size bytes read from
// body, or a link.
type entry struct {
	name     string
	size     int64
	body     func() io.Reader
	typeflag byte
	linkname string
	mode     int64
}

func writeTar(entries ...entry) func(w io.Writer) error {
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

func file(name, body string) entry {
	return entry{name: name, size: int64(len(body)), body: func() io.Reader { return strings.NewReader(body) }}
}

func symlink(name, target string) entry {
	return entry{name: name, typeflag: tar.TypeSymlink, linkname: target}
}

func hardlink(name, target string) entry {
	return entry{name: name, typeflag: tar.TypeLink, linkname: target}
}

const debianRelease = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"

const opensslStanza = `Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.0-1

`

// stanza is one installed package whose description pads it to about size bytes.
func stanza(name string, size int) string {
	head := fmt.Sprintf("Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\nDescription: padding\n", name)
	pad := size - len(head) - 1
	var b strings.Builder
	b.WriteString(head)
	for pad > 0 {
		line := " " + strings.Repeat("x", min(pad, 70)-1) + "\n"
		if pad < 2 {
			line = " \n"
		}
		b.WriteString(line)
		pad -= len(line)
	}
	b.WriteString("\n")
	return b.String()
}

// repeatReader yields s over and over.
type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

// names lists the (name, version) of an inventory's packages.
func names(inv *inventory.Inventory) []string {
	var out []string
	for _, p := range inv.Packages {
		out = append(out, p.Name+"="+p.Version)
	}
	return out
}

func skippedPaths(inv *inventory.Inventory) []string {
	var out []string
	for _, s := range inv.Skipped {
		out = append(out, s.Path)
	}
	return out
}

func scanLayers(t *testing.T, layers ...v1.Layer) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Scan(context.Background(), syntheticImage(t, layers...), inventory.NewMemoryCache())
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestALargeDpkgStatusIsReadAsAStream(t *testing.T) {
	// 110 MiB of real stanzas: more than osv-scalibr's 100 MiB default cap, under
	// which the extractor declined the file and the image scanned clean.
	const stanzaSize, count = 1 << 10, 110 << 10
	var one bytes.Buffer
	body := func() io.Reader {
		readers := []io.Reader{strings.NewReader(opensslStanza)}
		for i := range count {
			one.Reset()
			readers = append(readers, strings.NewReader(stanza("pkg"+strconv.Itoa(i), stanzaSize)))
		}
		return io.MultiReader(readers...)
	}
	size, _ := io.Copy(io.Discard, body())
	if size <= 100<<20 {
		t.Fatalf("status is %d bytes, not above 100 MiB", size)
	}
	inv := scanLayers(t, newStreamedLayer(t, writeTar(
		file("etc/os-release", debianRelease),
		entry{name: "var/lib/dpkg/status", size: size, body: body},
	)))
	if len(inv.Packages) != count+1 {
		t.Errorf("%d packages, want %d", len(inv.Packages), count+1)
	}
	if got := inv.Packages[0].Name + "=" + inv.Packages[0].Version; got != "openssl=3.0.0-1" {
		t.Errorf("first package %s, want openssl=3.0.0-1", got)
	}
	if len(inv.Skipped) != 0 {
		t.Errorf("skipped %+v, want the whole file read", inv.Skipped)
	}
}

func TestHostileDpkgDatabasesAreNeverSilentlyClean(t *testing.T) {
	status := "var/lib/dpkg/status"
	padding := func(n int64) func() io.Reader {
		return func() io.Reader {
			return io.MultiReader(strings.NewReader(opensslStanza+"Package: padding\nDescription: pad\n"),
				io.LimitReader(&repeatReader{s: " padding padding padding padding padding padding\n"}, n))
		}
	}
	const hugeSize = 600_000_000
	huge := entry{name: status, size: hugeSize, body: padding(hugeSize - int64(len(opensslStanza)+len("Package: padding\nDescription: pad\n")))}
	tests := []struct {
		name        string
		layers      [][]entry
		wantPkgs    []string
		wantSkipped []string
	}{
		{
			name:        "a 600 MB status whose first stanza is openssl reports openssl and is incomplete",
			layers:      [][]entry{{file("etc/os-release", debianRelease), huge}},
			wantPkgs:    []string{"openssl=3.0.0-1"},
			wantSkipped: []string{status},
		},
		{
			name: "a distroless status.d entry past the parser's bounds is incomplete, although the extractor swallows the error",
			layers: [][]entry{{file("etc/os-release", debianRelease), file("var/lib/dpkg/status.d/openssl", opensslStanza),
				entry{name: "var/lib/dpkg/status.d/huge", size: 8 << 20, body: func() io.Reader { return io.LimitReader(zeros{}, 8<<20) }}}},
			wantPkgs:    []string{"openssl=3.0.0-1"},
			wantSkipped: []string{"var/lib/dpkg/status.d/huge"},
		},
		{
			name: "a status of more stanzas than the parser holds reports what it read and is incomplete",
			layers: [][]entry{{file("etc/os-release", debianRelease), entry{name: status, size: 250_000 * 60, body: func() io.Reader {
				return io.MultiReader(strings.NewReader(opensslStanza),
					io.LimitReader(&repeatReader{s: "Package: many\nStatus: install ok installed\nVersion: 1\n\n"}, 250_000*60-int64(len(opensslStanza))))
			}}}},
			wantPkgs:    []string{"many=1", "openssl=3.0.0-1"},
			wantSkipped: []string{status},
		},
		{
			name:     "a status that is a symlink to a file of the same layer is followed",
			layers:   [][]entry{{file("etc/os-release", debianRelease), symlink(status, "../../../opt/dpkg/status"), file("opt/dpkg/status", opensslStanza)}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name:     "a status that is a symlink written before its target is followed",
			layers:   [][]entry{{file("etc/os-release", debianRelease), file("opt/dpkg/status", opensslStanza), symlink(status, "/opt/dpkg/status")}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name:     "a status that is a hard link is followed",
			layers:   [][]entry{{file("etc/os-release", debianRelease), file("opt/dpkg/status", opensslStanza), hardlink(status, "opt/dpkg/status")}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name:     "a chain of links is followed",
			layers:   [][]entry{{file("etc/os-release", debianRelease), symlink(status, "status.real"), symlink("var/lib/dpkg/status.real", "/srv/db"), file("srv/db", opensslStanza)}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status linked to a file of a lower layer is followed through the merged view",
			layers: [][]entry{
				{file("etc/os-release", debianRelease), file("opt/dpkg/status", opensslStanza)},
				{symlink(status, "/opt/dpkg/status")},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status linked to a file of an upper layer is followed",
			layers: [][]entry{
				{file("etc/os-release", debianRelease), symlink(status, "/opt/dpkg/status")},
				{file("opt/dpkg/status", opensslStanza)},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status hard-linked to a file of a lower layer is followed",
			layers: [][]entry{
				{file("etc/os-release", debianRelease), file("opt/dpkg/status", opensslStanza)},
				{hardlink(status, "opt/dpkg/status")},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "the merged view's copy of the target counts, not a lower one",
			layers: [][]entry{
				{file("etc/os-release", debianRelease), file("opt/dpkg/status", stanza("old", 200))},
				{symlink(status, "/opt/dpkg/status")},
				{file("opt/dpkg/status", opensslStanza)},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status linked to a lower-layer file that a middle layer deletes is incomplete",
			layers: [][]entry{
				{file("etc/os-release", debianRelease), file("opt/dpkg/status", opensslStanza)},
				{symlink(status, "/opt/dpkg/status")},
				{file("opt/.wh.dpkg", "")},
			},
			wantSkipped: []string{status},
		},
		{
			name:        "a status linked outside the image resolves inside it and is incomplete",
			layers:      [][]entry{{file("etc/os-release", debianRelease), symlink(status, "../../../../../../../../var/lib/dpkg/status.host")}},
			wantSkipped: []string{status},
		},
		{
			name:        "a symlink loop is incomplete",
			layers:      [][]entry{{file("etc/os-release", debianRelease), symlink(status, "status"), symlink("var/lib/dpkg/status.d/a", "b"), symlink("var/lib/dpkg/status.d/b", "a")}},
			wantSkipped: []string{status, "var/lib/dpkg/status.d/a", "var/lib/dpkg/status.d/b"},
		},
		{
			name: "an upper layer replacing the link with a real status is complete",
			layers: [][]entry{
				{file("etc/os-release", debianRelease), symlink(status, "/nowhere")},
				{file(status, opensslStanza)},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, entries := range tt.layers {
				layers = append(layers, newStreamedLayer(t, writeTar(entries...)))
			}
			inv := scanLayers(t, layers...)
			if diff := cmp.Diff(tt.wantPkgs, names(inv)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkipped, skippedPaths(inv)); diff != "" {
				t.Errorf("skipped files (-want +got):\n%s\n%+v", diff, inv.Skipped)
			}
		})
	}
}

// gnuSparseEntry writes an old-GNU sparse tar entry (type 'S', which Go's tar
// writer cannot produce): data stored at offset 0, then a hole up to realSize.
func gnuSparseEntry(w io.Writer, name string, data []byte, realSize int64) error {
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

func TestASparseDpkgStatusIsReadNotIgnored(t *testing.T) {
	layer := newStreamedLayer(t, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := tw.WriteHeader(&tar.Header{Name: "etc/os-release", Mode: 0o644, Size: int64(len(debianRelease))}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, debianRelease); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil { // no Close: raw entries follow
			return err
		}
		if err := gnuSparseEntry(w, "var/lib/dpkg/status", []byte(opensslStanza), 600_000_000); err != nil {
			return err
		}
		_, err := w.Write(make([]byte, 1024)) // end of archive
		return err
	})
	inv := scanLayers(t, layer)
	if diff := cmp.Diff([]string{"openssl=3.0.0-1"}, names(inv)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	// 600 MB of zeros after the stanza is not a dpkg database: the file was not
	// read whole, and the platform must say so.
	if diff := cmp.Diff([]string{"var/lib/dpkg/status"}, skippedPaths(inv)); diff != "" {
		t.Errorf("skipped files (-want +got):\n%s", diff)
	}
}

// breakingLayer is a streamedLayer whose blob stream fails after n bytes, as a
// registry connection reset mid-blob does.
type breakingLayer struct {
	*streamedLayer
	n int64
}

var errReset = errors.New("connection reset by peer")

func (l breakingLayer) Compressed() (io.ReadCloser, error) {
	rc, _ := l.streamedLayer.Compressed()
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, l.n), iotest.ErrReader(errReset)), rc}, nil
}

func TestABrokenBlobStreamFailsTheLayerInsteadOfEmptyingADatabase(t *testing.T) {
	for _, path := range []string{"var/lib/dpkg/status", "var/lib/dpkg/status.d/openssl"} {
		t.Run("a stream broken inside "+path+" is a retryable error", func(t *testing.T) {
			layer := newStreamedLayer(t, writeTar(file(path, opensslStanza+strings.Repeat(stanza("filler", 1000), 64))))
			_, err := inventory.AnalyzeLayer(context.Background(), breakingLayer{layer, 4096})
			if !errors.Is(err, errReset) || errors.Is(err, image.ErrMalformed) {
				t.Fatalf("AnalyzeLayer error = %v, want the reset, not ErrMalformed", err)
			}
		})
	}
}

// countingLayer counts how often its blob is read.
type countingLayer struct {
	v1.Layer
	reads *int
}

func (l countingLayer) Compressed() (io.ReadCloser, error) {
	*l.reads++
	return l.Layer.Compressed()
}

func TestManyDanglingDatabaseLinksCostOneMoreReadOfTheImage(t *testing.T) {
	var links []entry
	for i := range 50 {
		links = append(links, symlink(fmt.Sprintf("var/lib/dpkg/status.d/p%d", i), fmt.Sprintf("/missing/%d", i)))
	}
	reads := 0
	base := countingLayer{newStreamedLayer(t, writeTar(file("etc/os-release", debianRelease), file("var/lib/dpkg/status", opensslStanza))), &reads}
	top := countingLayer{newStreamedLayer(t, writeTar(links...)), &reads}
	inv := scanLayers(t, base, top)
	if len(inv.Skipped) != 50 {
		t.Errorf("%d skipped files, want the 50 dangling links", len(inv.Skipped))
	}
	// One read per layer to analyze it, one more of the top layer for targets within
	// it, and one pass over both layers for targets elsewhere.
	if reads != 5 {
		t.Errorf("the image's blobs were read %d times, want 5", reads)
	}
}
