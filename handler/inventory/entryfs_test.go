package inventory_test

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	scalibrinv "github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/plugin"

	"github.com/tidewatch/tidewatch/handler/inventory"
)

// hostPathExtractor behaves like osv-scalibr's rpm extractor: it wants one path and
// reads the database at filepath.Join(Root, Path), one package name per line. It
// also records what ScanInput.FS holds.
type hostPathExtractor struct {
	want   string
	viewed map[string]string
}

func (e *hostPathExtractor) Name() string                       { return "test/hostpath" }
func (e *hostPathExtractor) Version() int                       { return 0 }
func (e *hostPathExtractor) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }
func (e *hostPathExtractor) FileRequired(api filesystem.FileAPI) bool {
	return api.Path() == e.want
}

func (e *hostPathExtractor) Extract(_ context.Context, input *filesystem.ScanInput) (scalibrinv.Inventory, error) {
	e.viewed = map[string]string{}
	fs.WalkDir(input.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(input.FS, p)
			e.viewed[p] = string(b)
		}
		return nil
	})
	var pkgs []*extractor.Package
	fromReader, _ := io.ReadAll(input.Reader)
	for _, name := range strings.Fields(string(fromReader)) {
		pkgs = append(pkgs, &extractor.Package{Name: "reader:" + name, Version: "1"})
	}
	f, err := os.Open(filepath.Join(input.Root, input.Path))
	if err != nil {
		return scalibrinv.Inventory{Packages: pkgs}, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		pkgs = append(pkgs, &extractor.Package{Name: "root:" + s.Text(), Version: "1"})
	}
	return scalibrinv.Inventory{Packages: pkgs}, nil
}

func TestExtractorsNeverSeeTheWorkersFilesystem(t *testing.T) {
	// The worker has a package database at a path the image also has: a temp dir
	// stands in for the host's /var/lib/rpm, which a test cannot write.
	host := t.TempDir()
	hostDB := filepath.Join(host, "var/lib/rpm/Packages")
	if err := os.MkdirAll(filepath.Dir(hostDB), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostDB, []byte("host-only-package\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	imageDB := strings.TrimPrefix(filepath.ToSlash(hostDB), "/")
	layer := tarLayer(t, tarFile{name: imageDB, body: "image-package\n"})

	for _, randomAccess := range []bool{false, true} {
		name := "a streaming extractor reads the layer entry and cannot open the host's copy"
		if randomAccess {
			name = "a buffered extractor's FS holds the entry and an empty os-release, nothing of the host"
		}
		t.Run(name, func(t *testing.T) {
			e := &hostPathExtractor{want: imageDB}
			r, err := inventory.AnalyzeLayerWith(context.Background(), layer, e, randomAccess)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range r.PackageFiles[imageDB] {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff([]string{"reader:image-package"}, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if _, ok := r.Skipped[imageDB]; !ok {
				t.Errorf("opening Root+Path did not fail into a skipped file: %+v", r.Skipped)
			}
			wantView := map[string]string{"etc/os-release": ""}
			if randomAccess {
				wantView[imageDB] = "image-package\n"
			}
			if diff := cmp.Diff(wantView, e.viewed); diff != "" {
				t.Errorf("ScanInput.FS (-want +got):\n%s", diff)
			}
		})
	}
}
