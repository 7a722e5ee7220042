package cli_test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func itoa(n int) string { return strconv.Itoa(n) }

// unknownPlatformArchive writes an OCI-layout tar whose image index lists only
// entries of the unknown platform (what BuildKit uses for attestations).
func unknownPlatformArchive(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var idx v1.ImageIndex = empty.Index
	for range 2 {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}},
		})
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	return tarDir(t, dir)
}

// tarDir packs dir's files into a tar next to it.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScanOfAnIndexWithNothingScannableFailsWithoutExitCode(t *testing.T) {
	archive := unknownPlatformArchive(t)
	for _, format := range []string{"json", "table"} {
		t.Run("in "+format+" format it exits 1 saying there is nothing to scan", func(t *testing.T) {
			r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", format)
			if r.code != 1 {
				t.Errorf("exit code = %d, want 1; stdout:\n%s", r.code, r.stdout)
			}
			if !strings.Contains(r.stderr, "nothing to scan") {
				t.Errorf("stderr does not say there is nothing to scan:\n%s", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("printed a result for nothing scanned:\n%s", r.stdout)
			}
		})
	}
}
