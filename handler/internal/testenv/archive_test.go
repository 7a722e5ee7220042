package testenv

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarHeader is what a test checks of one entry archive/tar read back.
type tarHeader struct {
	Name, Linkname, Body string
	Typeflag             byte
	Mode                 int64
}

func readTar(t *testing.T, r io.Reader) []tarHeader {
	t.Helper()
	var out []tarHeader
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarHeader{Name: hdr.Name, Linkname: hdr.Linkname, Body: string(body), Typeflag: hdr.Typeflag, Mode: hdr.Mode})
	}
}

func TestADockerArchiveHoldsEachLayerAsWrittenUnderItsOwnDiffID(t *testing.T) {
	layers := [][]TarEntry{
		{File("etc/os-release", BookwormOSRelease), Executable("app/run", "#!/bin/sh\n"), Symlink("bin/run", "/app/run")},
		{Hardlink("app/again", "app/run")},
	}
	want := [][]tarHeader{
		{{Name: "etc/os-release", Body: BookwormOSRelease, Typeflag: tar.TypeReg, Mode: 0o644},
			{Name: "app/run", Body: "#!/bin/sh\n", Typeflag: tar.TypeReg, Mode: 0o755},
			{Name: "bin/run", Linkname: "/app/run", Typeflag: tar.TypeSymlink, Mode: 0o644}},
		{{Name: "app/again", Linkname: "app/run", Typeflag: tar.TypeLink, Mode: 0o644}},
	}
	var writes []func(io.Writer) error
	for _, entries := range layers {
		writes = append(writes, Tar(entries...))
	}
	img, err := tarball.ImageFromPath(DockerArchive(t, writes...), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	got, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(cfg.RootFS.DiffIDs) != len(want) {
		t.Fatalf("%d layers and %d diffIDs, want %d", len(got), len(cfg.RootFS.DiffIDs), len(want))
	}
	for i, l := range got {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if d := "sha256:" + hex.EncodeToString(sum[:]); d != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d: config claims diffID %s, its tar hashes to %s", i, cfg.RootFS.DiffIDs[i], d)
		}
		if diff := cmp.Diff(want[i], readTar(t, bytes.NewReader(raw))); diff != "" {
			t.Errorf("layer %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestALayoutTarHoldsEveryBlobOnceUnderItsDigest(t *testing.T) {
	img, err := random.Image(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	child := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	top := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}, mutate.IndexAddendum{Add: child}, mutate.IndexAddendum{Add: child})
	f := LayoutTar(t, top)
	entries := readTarFile(t, f)
	seen := map[string]bool{}
	var blobs int
	for _, e := range entries {
		if seen[e.Name] {
			t.Errorf("%s written twice", e.Name)
		}
		seen[e.Name] = true
		if hexDigest, ok := strings.CutPrefix(e.Name, "blobs/sha256/"); ok {
			blobs++
			if sum := sha256.Sum256([]byte(e.Body)); hex.EncodeToString(sum[:]) != hexDigest {
				t.Errorf("%s holds a blob of another digest", e.Name)
			}
		}
	}
	// The image's manifest, config and two layers, and the child index.
	if blobs != 5 {
		t.Errorf("%d blobs, want 5", blobs)
	}
	raw, err := top.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == "index.json" && e.Body != string(raw) {
			t.Errorf("index.json is not the top index's manifest:\n%s", e.Body)
		}
	}
	if !seen["oci-layout"] || !seen["index.json"] {
		t.Errorf("entries %v lack oci-layout or index.json", seen)
	}
}

func readTarFile(t *testing.T, path string) []tarHeader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readTar(t, bytes.NewReader(b))
}

func TestAGNUSparseEntryReadsAsItsDataThenAHole(t *testing.T) {
	var buf bytes.Buffer
	if err := GNUSparseEntry(&buf, DpkgStatus, []byte(OpensslStanza), 4096); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, 1024))
	want := []tarHeader{{Name: DpkgStatus, Body: OpensslStanza + strings.Repeat("\x00", 4096-len(OpensslStanza)), Typeflag: tar.TypeGNUSparse, Mode: 0o644}}
	if diff := cmp.Diff(want, readTar(t, &buf)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAPaddedStatusIsItsSizeAndStartsWithOpenssl(t *testing.T) {
	const size = 1 << 20
	e := PaddedStatus(DpkgStatus, size)
	body, err := io.ReadAll(e.Body())
	if err != nil {
		t.Fatal(err)
	}
	if len(body) != size || e.Size != size {
		t.Errorf("entry says %d bytes and holds %d, want %d", e.Size, len(body), size)
	}
	if !strings.HasPrefix(string(body), OpensslStanza+"Package: padding\n") {
		t.Errorf("status starts %.200q, want the openssl stanza then the padding one", body)
	}
}
