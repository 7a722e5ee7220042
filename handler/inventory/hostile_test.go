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
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
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
		readers := []io.Reader{strings.NewReader(testenv.OpensslStanza)}
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
	inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(
		testenv.File("etc/os-release", testenv.BookwormOSRelease),
		testenv.TarEntry{Name: "var/lib/dpkg/status", Size: size, Body: body},
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
	const hugeSize = 600_000_000
	huge := testenv.PaddedStatus(status, hugeSize)
	tests := []struct {
		name        string
		layers      [][]testenv.TarEntry
		wantPkgs    []string
		wantSkipped []string
	}{
		{
			name:        "a 600 MB status whose first stanza is openssl reports openssl and is incomplete",
			layers:      [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), huge}},
			wantPkgs:    []string{"openssl=3.0.0-1"},
			wantSkipped: []string{status},
		},
		{
			name: "a distroless status.d entry past the parser's bounds is incomplete, although the extractor swallows the error",
			layers: [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("var/lib/dpkg/status.d/openssl", testenv.OpensslStanza),
				testenv.TarEntry{Name: "var/lib/dpkg/status.d/huge", Size: 8 << 20, Body: func() io.Reader { return io.LimitReader(zeros{}, 8<<20) }}}},
			wantPkgs:    []string{"openssl=3.0.0-1"},
			wantSkipped: []string{"var/lib/dpkg/status.d/huge"},
		},
		{
			name: "a status of more stanzas than the parser holds reports what it read and is incomplete",
			layers: [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.TarEntry{Name: status, Size: 250_000 * 60, Body: func() io.Reader {
				return io.MultiReader(strings.NewReader(testenv.OpensslStanza),
					io.LimitReader(&testenv.RepeatReader{S: "Package: many\nStatus: install ok installed\nVersion: 1\n\n"}, 250_000*60-int64(len(testenv.OpensslStanza))))
			}}}},
			wantPkgs:    []string{"many=1", "openssl=3.0.0-1"},
			wantSkipped: []string{status},
		},
		{
			name:     "a status that is a symlink to a file of the same layer is followed",
			layers:   [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.Symlink(status, "../../../opt/dpkg/status"), testenv.File("opt/dpkg/status", testenv.OpensslStanza)}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name:     "a status that is a symlink written before its target is followed",
			layers:   [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", testenv.OpensslStanza), testenv.Symlink(status, "/opt/dpkg/status")}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name:     "a status that is a hard link is followed",
			layers:   [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", testenv.OpensslStanza), testenv.Hardlink(status, "opt/dpkg/status")}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name:     "a chain of links is followed",
			layers:   [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.Symlink(status, "status.real"), testenv.Symlink("var/lib/dpkg/status.real", "/srv/db"), testenv.File("srv/db", testenv.OpensslStanza)}},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status linked to a file of a lower layer is followed through the merged view",
			layers: [][]testenv.TarEntry{
				{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", testenv.OpensslStanza)},
				{testenv.Symlink(status, "/opt/dpkg/status")},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status linked to a file of an upper layer is followed",
			layers: [][]testenv.TarEntry{
				{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.Symlink(status, "/opt/dpkg/status")},
				{testenv.File("opt/dpkg/status", testenv.OpensslStanza)},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status hard-linked to a file of a lower layer is followed",
			layers: [][]testenv.TarEntry{
				{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", testenv.OpensslStanza)},
				{testenv.Hardlink(status, "opt/dpkg/status")},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "the merged view's copy of the target counts, not a lower one",
			layers: [][]testenv.TarEntry{
				{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", stanza("old", 200))},
				{testenv.Symlink(status, "/opt/dpkg/status")},
				{testenv.File("opt/dpkg/status", testenv.OpensslStanza)},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
		{
			name: "a status linked to a lower-layer file that a middle layer deletes is incomplete",
			layers: [][]testenv.TarEntry{
				{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", testenv.OpensslStanza)},
				{testenv.Symlink(status, "/opt/dpkg/status")},
				{testenv.File("opt/.wh.dpkg", "")},
			},
			wantSkipped: []string{status},
		},
		{
			name:        "a status linked outside the image resolves inside it and is incomplete",
			layers:      [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.Symlink(status, "../../../../../../../../var/lib/dpkg/status.host")}},
			wantSkipped: []string{status},
		},
		{
			name:        "a symlink loop is incomplete",
			layers:      [][]testenv.TarEntry{{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.Symlink(status, "status"), testenv.Symlink("var/lib/dpkg/status.d/a", "b"), testenv.Symlink("var/lib/dpkg/status.d/b", "a")}},
			wantSkipped: []string{status, "var/lib/dpkg/status.d/a", "var/lib/dpkg/status.d/b"},
		},
		{
			name: "an upper layer replacing the link with a real status is complete",
			layers: [][]testenv.TarEntry{
				{testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.Symlink(status, "/nowhere")},
				{testenv.File(status, testenv.OpensslStanza)},
			},
			wantPkgs: []string{"openssl=3.0.0-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, entries := range tt.layers {
				layers = append(layers, newStreamedLayer(t, testenv.Tar(entries...)))
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

func TestASparseDpkgStatusIsReadNotIgnored(t *testing.T) {
	layer := newStreamedLayer(t, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := tw.WriteHeader(&tar.Header{Name: "etc/os-release", Mode: 0o644, Size: int64(len(testenv.BookwormOSRelease))}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, testenv.BookwormOSRelease); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil { // no Close: raw entries follow
			return err
		}
		if err := testenv.GNUSparseEntry(w, "var/lib/dpkg/status", []byte(testenv.OpensslStanza), 600_000_000); err != nil {
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
			layer := newStreamedLayer(t, testenv.Tar(testenv.File(path, testenv.OpensslStanza+strings.Repeat(stanza("filler", 1000), 64))))
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
	var links []testenv.TarEntry
	for i := range 50 {
		links = append(links, testenv.Symlink(fmt.Sprintf("var/lib/dpkg/status.d/p%d", i), fmt.Sprintf("/missing/%d", i)))
	}
	reads := 0
	base := countingLayer{newStreamedLayer(t, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("var/lib/dpkg/status", testenv.OpensslStanza))), &reads}
	top := countingLayer{newStreamedLayer(t, testenv.Tar(links...)), &reads}
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
