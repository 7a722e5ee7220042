package inventory_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// archiveOf writes layers (each a tar written by write) as a docker-save archive,
// the kind `tidewatch scan --archive` reads, and resolves it as the CLI does.
func archiveOf(t *testing.T, writes ...func(io.Writer) error) image.PlatformImage {
	t.Helper()
	var layers []v1.Layer
	for _, write := range writes {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, layer)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hostile.tar")
	if err := tarball.WriteToFile(path, name.MustParseReference("hostile:1"), img); err != nil {
		t.Fatal(err)
	}
	target, err := image.FromArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	return target.Platforms[0]
}

func TestHostileArchivesAreNeverSilentlyClean(t *testing.T) {
	status := "var/lib/dpkg/status"
	release := testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", testenv.OpensslStanza))
	tests := []struct {
		name        string
		layers      []func(io.Writer) error
		wantSkipped []string
	}{
		{"an archive whose status symlinks into a lower layer lists its packages",
			[]func(io.Writer) error{release, testenv.Tar(testenv.Symlink(status, "/opt/dpkg/status"))}, nil},
		{"an archive whose status is a hard link lists its packages",
			[]func(io.Writer) error{testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File("opt/dpkg/status", testenv.OpensslStanza), testenv.Hardlink(status, "opt/dpkg/status"))}, nil},
		{"an archive whose status is a sparse file lists what it holds and is incomplete",
			[]func(io.Writer) error{func(w io.Writer) error {
				if err := testenv.GNUSparseEntry(w, status, []byte(testenv.OpensslStanza), 600_000_000); err != nil {
					return err
				}
				_, err := w.Write(make([]byte, 1024))
				return err
			}, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease))}, []string{status}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inventory.Scan(context.Background(), archiveOf(t, tt.layers...), inventory.NewMemoryCache())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"openssl=3.0.0-1"}, names(inv)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkipped, skippedPaths(inv)); diff != "" {
				t.Errorf("skipped files (-want +got):\n%s\n%+v", diff, inv.Skipped)
			}
			if inv.OS == nil || inv.OS.Ecosystem != "Debian:12" {
				t.Errorf("OS = %+v, want Debian:12", inv.OS)
			}
		})
	}
}
