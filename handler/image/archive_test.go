package image_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// manifestSidecar is the part of a fixture's ground-truth JSON about manifests.
type manifestSidecar struct {
	IndexDigest string `json:"indexDigest"`
	Manifests   []struct {
		Platform            string `json:"platform"`
		ManifestDigest      string `json:"manifestDigest"`
		DockerTarballDigest string `json:"dockerTarballDigest"`
	} `json:"manifests"`
}

func readManifestSidecar(t *testing.T, name string) manifestSidecar {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t), "images", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var s manifestSidecar
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

type platformDigest struct{ Platform, Digest string }

func TestFromArchiveResolvesPlatformsAndDigests(t *testing.T) {
	for _, name := range []string{"debian12-minbase", "debian12-layered", "debian12-multiarch", "distroless-style"} {
		t.Run(name+" has the sidecar's platforms and OCI manifest digests", func(t *testing.T) {
			want := readManifestSidecar(t, name)
			target, err := image.FromArchive(testenv.Image(t, name))
			if err != nil {
				t.Fatal(err)
			}
			var wantPD, gotPD []platformDigest
			for _, m := range want.Manifests {
				wantPD = append(wantPD, platformDigest{m.Platform, m.ManifestDigest})
			}
			for _, p := range target.Platforms {
				gotPD = append(gotPD, platformDigest{p.Platform.String(), p.Digest})
			}
			if diff := cmp.Diff(wantPD, gotPD); diff != "" {
				t.Errorf("platforms (-sidecar +got):\n%s", diff)
			}
			if target.IndexDigest != want.IndexDigest {
				t.Errorf("IndexDigest = %q, want %q", target.IndexDigest, want.IndexDigest)
			}
		})
	}
}

func TestFromArchiveReadsDockerSaveTarballs(t *testing.T) {
	const name = "distroless-style"
	want := readManifestSidecar(t, name)
	path := copyArchive(t, testenv.Image(t, name), func(hdr *tar.Header) bool {
		return hdr.Name != "index.json" && hdr.Name != "oci-layout"
	})
	target, err := image.FromArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(target.Platforms) != 1 {
		t.Fatalf("got %d platforms, want 1", len(target.Platforms))
	}
	got := platformDigest{target.Platforms[0].Platform.String(), target.Platforms[0].Digest}
	wantPD := platformDigest{want.Manifests[0].Platform, want.Manifests[0].DockerTarballDigest}
	if diff := cmp.Diff(wantPD, got); diff != "" {
		t.Errorf("docker-save platform (-sidecar +got):\n%s", diff)
	}
}

func TestFromArchiveRejectsBadInput(t *testing.T) {
	minbase := testenv.Image(t, "debian12-minbase")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	real, err := os.ReadFile(minbase)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"a text file is not an image", write("notes.txt", []byte(strings.Repeat("not a tar archive\n", 100)))},
		{"an empty file is not an image", write("empty.tar", nil)},
		{"a truncated archive is malformed", write("truncated.tar", real[:len(real)/2])},
		{"a tar without index.json or manifest.json is not an image", copyArchive(t, minbase, func(hdr *tar.Header) bool {
			return hdr.Name != "index.json" && hdr.Name != "manifest.json"
		})},
		{"an index.json pointing at a missing manifest is malformed", copyArchive(t, minbase, func(hdr *tar.Header) bool {
			return !strings.HasPrefix(hdr.Name, "blobs/sha256/c27c3201")
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := image.FromArchive(tt.path)
			if !errors.Is(err, image.ErrMalformed) {
				t.Fatalf("FromArchive error = %v, want one matching ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the archive", err)
			}
		})
	}
	t.Run("a missing file is an error but not a malformed image", func(t *testing.T) {
		_, err := image.FromArchive(filepath.Join(dir, "absent.tar"))
		if err == nil || errors.Is(err, image.ErrMalformed) {
			t.Fatalf("FromArchive error = %v, want a non-ErrMalformed error", err)
		}
	})
}

// copyArchive writes the entries of src that keep accepts to a new tar in a temp dir.
func copyArchive(t *testing.T, src string, keep func(*tar.Header) bool) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !keep(hdr) {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
