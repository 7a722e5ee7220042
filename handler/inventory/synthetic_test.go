package inventory_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

type tarFile struct {
	name, body, symlink string
}

func tarLayer(t *testing.T, files ...tarFile) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		if f.symlink != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, f.symlink, 0
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
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

func syntheticImage(t *testing.T, layers ...v1.Layer) image.PlatformImage {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	target, err := image.FromImage("synthetic", img)
	if err != nil {
		t.Fatal(err)
	}
	return target.Platforms[0]
}

const (
	statusAC = `Package: a
Status: install ok installed
Architecture: amd64
Source: asrc (0.9)
Version: 1.0

Package: c
Status: install ok installed
Architecture: all
Version: 2.0
`
	statusAOnly = `Package: a
Status: install ok installed
Architecture: amd64
Source: asrc (0.9)
Version: 1.0

Package: c
Status: deinstall ok config-files
Architecture: all
Version: 2.0
`
)

// whiteoutImage has four layers: a base with a dpkg status, a distroless status.d
// entry and a symlinked os-release; an opaque status.d with a new entry; a rewritten
// status that drops c; and a whiteout of the whole status.d directory.
func whiteoutImage(t *testing.T) image.PlatformImage {
	return syntheticImage(t,
		tarLayer(t,
			tarFile{name: "etc/os-release", symlink: "../usr/lib/os-release"},
			tarFile{name: "usr/lib/os-release", body: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"},
			tarFile{name: "var/lib/dpkg/status", body: statusAC},
			tarFile{name: "var/lib/dpkg/status.d/x", body: "Package: x\nVersion: 3\nArchitecture: amd64\n"},
		),
		tarLayer(t,
			tarFile{name: "var/lib/dpkg/status.d/.wh..wh..opq"},
			tarFile{name: "var/lib/dpkg/status.d/y", body: "Package: y\nVersion: 4\nArchitecture: arm64\n"},
		),
		tarLayer(t, tarFile{name: "./var/lib/dpkg/status", body: statusAOnly}),
		tarLayer(t, tarFile{name: "var/lib/dpkg/.wh.status.d"}),
	)
}

func TestScanAppliesWhiteoutsOfARealImage(t *testing.T) {
	img := whiteoutImage(t)
	inv, err := inventory.Scan(context.Background(), img, inventory.NewMemoryCache())
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	base, err := layers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Package{{
		Name: "a", Version: "1.0", SourceName: "asrc", SourceVersion: "0.9", Arch: "amd64",
		Type: "deb", Ecosystem: "Debian:12", Location: "var/lib/dpkg/status", LayerIndex: 0, LayerDiffID: base.String(),
		// The os-release names no codename, so the distro qualifier is VERSION_ID.
		PURL: "pkg:deb/debian/a@1.0?arch=amd64&distro=12&source=asrc&sourceversion=0.9",
	}}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	wantOS := &inventory.OS{
		OSRelease: inventory.OSRelease{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Ecosystem: "Debian:12",
	}
	if diff := cmp.Diff(wantOS, inv.OS); diff != "" {
		t.Errorf("OS (-want +got):\n%s", diff)
	}
}

func TestAnalyzeLayerRecordsWhatTheLayerHolds(t *testing.T) {
	img := whiteoutImage(t)
	layers, err := img.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var got []*inventory.LayerResult
	for _, l := range layers {
		r, err := inventory.AnalyzeLayer(context.Background(), l)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	y := inventory.Package{Name: "y", Version: "4", SourceName: "y", SourceVersion: "4", Arch: "arm64", Type: "deb", Location: "var/lib/dpkg/status.d/y"}
	if diff := cmp.Diff(map[string][]inventory.Package{y.Location: {y}}, got[1].PackageFiles); diff != "" {
		t.Errorf("layer 1 package files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"var/lib/dpkg/status.d"}, got[1].OpaqueDirs); diff != "" {
		t.Errorf("layer 1 opaque dirs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"var/lib/dpkg/status.d"}, got[3].Whiteouts); diff != "" {
		t.Errorf("layer 3 whiteouts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]inventory.OSReleaseFile{
		"etc/os-release":     {LinkTarget: "../usr/lib/os-release"},
		"usr/lib/os-release": {Release: &inventory.OSRelease{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"}},
	}, got[0].OSReleaseFiles); diff != "" {
		t.Errorf("layer 0 os-release files (-want +got):\n%s", diff)
	}
	if got[0].Files != 4 || got[0].Bytes == 0 {
		t.Errorf("layer 0 Files, Bytes = %d, %d; want 4 entries and some bytes", got[0].Files, got[0].Bytes)
	}

	t.Run("a layer result survives a JSON round trip", func(t *testing.T) {
		b, err := json.Marshal(got[0])
		if err != nil {
			t.Fatal(err)
		}
		var back inventory.LayerResult
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got[0], &back); diff != "" {
			t.Errorf("round trip (-before +after):\n%s", diff)
		}
	})
}

func TestScanOfAnUnknownDistributionHasNoEcosystem(t *testing.T) {
	img := syntheticImage(t, tarLayer(t,
		tarFile{name: "etc/os-release", body: "ID=postmarketos\nVERSION_ID=v24.06\n"},
		tarFile{name: "lib/apk/db/installed", body: "P:musl\nV:1.2.5-r0\n"},
	))
	inv, err := inventory.Scan(context.Background(), img, inventory.NewMemoryCache())
	if err != nil {
		t.Fatal(err)
	}
	if inv.OS == nil || inv.OS.Ecosystem != "" || inv.OS.ID != "postmarketos" {
		t.Errorf("OS = %+v; want postmarketos with no ecosystem", inv.OS)
	}
	if len(inv.Packages) != 1 || inv.Packages[0].Ecosystem != "" {
		t.Errorf("packages %+v; want musl without an ecosystem", inv.Packages)
	}
}

// countingCache records cache traffic around a MemoryCache.
type countingCache struct {
	*inventory.MemoryCache
	hits, puts int
}

func (c *countingCache) GetLayer(ctx context.Context, diffID, analyzer string) (*inventory.LayerResult, bool, error) {
	r, ok, err := c.MemoryCache.GetLayer(ctx, diffID, analyzer)
	if ok {
		c.hits++
	}
	return r, ok, err
}

func (c *countingCache) PutLayer(ctx context.Context, r *inventory.LayerResult) error {
	c.puts++
	return c.MemoryCache.PutLayer(ctx, r)
}

func TestScanReusesCachedLayers(t *testing.T) {
	img := whiteoutImage(t)
	cache := &countingCache{MemoryCache: inventory.NewMemoryCache()}
	first, err := inventory.Scan(context.Background(), img, cache)
	if err != nil {
		t.Fatal(err)
	}
	if cache.hits != 0 || cache.puts != 4 {
		t.Fatalf("cold scan: %d hits, %d puts; want 0 and 4", cache.hits, cache.puts)
	}
	second, err := inventory.Scan(context.Background(), img, cache)
	if err != nil {
		t.Fatal(err)
	}
	if cache.hits != 4 || cache.puts != 4 {
		t.Errorf("warm scan: %d hits, %d puts; want 4 and 4", cache.hits, cache.puts)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("warm scan differs (-cold +warm):\n%s", diff)
	}

	layers, _ := img.Image.Layers()
	top, _ := layers[3].DiffID()
	topDigest, _ := layers[3].Digest()
	planted := deb("planted", "9", "var/lib/dpkg/status.d/planted")
	plantedResult := func(digests ...string) *inventory.LayerResult {
		return &inventory.LayerResult{
			DiffID: top.String(), Analyzer: inventory.Analyzer, Digests: digests,
			PackageFiles: map[string][]inventory.Package{planted.Location: {planted}},
		}
	}
	scanNames := func(t *testing.T) []string {
		t.Helper()
		inv, err := inventory.Scan(context.Background(), img, cache)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range inv.Packages {
			names = append(names, p.Name)
		}
		return names
	}
	t.Run("a cached result is used instead of the layer's bytes when its digest was verified", func(t *testing.T) {
		cache.PutLayer(context.Background(), plantedResult(topDigest.String()))
		if diff := cmp.Diff([]string{"a", "planted", "y"}, scanNames(t)); diff != "" {
			t.Errorf("packages (-want +got):\n%s", diff)
		}
	})
	t.Run("a cached result made from another compressed blob is not trusted", func(t *testing.T) {
		cache.PutLayer(context.Background(), plantedResult("sha256:0000000000000000000000000000000000000000000000000000000000000000"))
		if diff := cmp.Diff([]string{"a"}, scanNames(t)); diff != "" {
			t.Errorf("packages (-want +got):\n%s", diff)
		}
		r, _, _ := cache.GetLayer(context.Background(), top.String(), inventory.Analyzer)
		if diff := cmp.Diff([]string{topDigest.String()}, r.Digests); diff != "" {
			t.Errorf("re-analyzed result's digests (-want +got):\n%s", diff)
		}
	})
}

func TestAnalyzeLayerRejectsALayerThatDoesNotMatchItsDigest(t *testing.T) {
	good := tarLayer(t, tarFile{name: "var/lib/dpkg/status", body: statusAC})
	_, err := inventory.AnalyzeLayer(context.Background(), corruptedLayer(t, good))
	if !errors.Is(err, image.ErrMalformed) {
		t.Fatalf("AnalyzeLayer error = %v, want ErrMalformed", err)
	}
}

// corruptedLayer serves good's blob with one byte flipped under good's digests.
func corruptedLayer(t *testing.T, good v1.Layer) v1.Layer {
	t.Helper()
	blob, err := good.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(blob)
	b[len(b)/2] ^= 0xff
	return lyingDigestLayer{static.NewLayer(b, types.OCILayer), good}
}

// lyingDigestLayer serves corrupted bytes under the digests of the original layer.
type lyingDigestLayer struct {
	v1.Layer
	original v1.Layer
}

func (l lyingDigestLayer) Digest() (v1.Hash, error) { return l.original.Digest() }
func (l lyingDigestLayer) DiffID() (v1.Hash, error) { return l.original.DiffID() }

func TestAnalyzerNamesTheExtractorsInUse(t *testing.T) {
	if got := inventory.AnalyzerOfPlugins(); got != inventory.Analyzer {
		t.Errorf("extractors in use give analyzer %q but the Analyzer constant is %q: update it", got, inventory.Analyzer)
	}
}
