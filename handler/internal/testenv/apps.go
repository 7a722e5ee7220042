package testenv

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The application fixture: testdata/apps/rootfs is a small root filesystem with
// one application of each ecosystem osv-scalibr's .NET, Rust, Ruby and PHP
// extractors read (see testdata/apps/README.md for where each file comes from),
// truth.json its inventory read without Tidewatch (make-truth.sh), and
// advisories/<ecosystem>/ the OSV records the findings tests load.

// AppsEcosystems are the advisory folders (and OSV ecosystems) of the fixture.
var AppsEcosystems = []string{"NuGet", "Packagist", "RubyGems", "crates.io"}

// AppsPackage is one package of the fixture's ground truth.
type AppsPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	// Location is the file it is read from, relative to the root, no leading slash.
	Location string `json:"location"`
}

// appsDir is testdata/apps of this package.
func appsDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "handler", "internal", "testenv", "testdata", "apps")
}

// ReadAppsTruth decodes truth.json.
func ReadAppsTruth(t testing.TB) []AppsPackage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(appsDir(t), "truth.json"))
	if err != nil {
		t.Fatalf("reading the application fixture's truth: %v", err)
	}
	var truth struct {
		Packages []AppsPackage `json:"packages"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatalf("decoding the application fixture's truth: %v", err)
	}
	if len(truth.Packages) == 0 {
		t.Fatal("the application fixture's truth lists no package")
	}
	return truth.Packages
}

// AppsEntries returns the fixture's files as layer entries (paths relative to the
// root, executables 0755), in path order.
func AppsEntries(t testing.TB) []TarEntry {
	t.Helper()
	root := filepath.Join(appsDir(t), "rootfs")
	var entries []TarEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		e := File(filepath.ToSlash(rel), string(body))
		if info.Mode()&0o111 != 0 {
			e.Mode = 0o755
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the application fixture: %v", err)
	}
	return entries
}

// AppsFile returns the body of one fixture file ("app/rust/tidewatch-rust-fixture").
func AppsFile(t testing.TB, rel string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(appsDir(t), "rootfs", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatalf("reading fixture file %s: %v", rel, err)
	}
	return body
}

// AppsArchive writes the fixture, plus extra entries, as a one-layer docker-save
// archive and returns its path.
func AppsArchive(t testing.TB, extra ...TarEntry) string {
	t.Helper()
	return DockerArchive(t, Tar(append(AppsEntries(t), extra...)...))
}

// AppsAdvisories writes an advisory directory holding <ecosystem>/all.zip for each
// of AppsEcosystems, built from testdata/apps/advisories, and returns it.
func AppsAdvisories(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, eco := range AppsEcosystems {
		src := filepath.Join(appsDir(t), "advisories", eco)
		files, err := os.ReadDir(src)
		if err != nil {
			t.Fatalf("reading %s records: %v", eco, err)
		}
		members := map[string]string{}
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".json") {
				continue
			}
			body, err := os.ReadFile(filepath.Join(src, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			members[f.Name()] = string(body)
		}
		WriteOSVExport(t, dir, eco, members)
	}
	return dir
}

// RepeatEntry is a regular file of size bytes repeating pattern, streamed.
func RepeatEntry(name string, pattern string, size int64) TarEntry {
	return TarEntry{Name: name, Size: size, Body: func() io.Reader {
		return io.LimitReader(&RepeatReader{S: pattern}, size)
	}}
}
