package testenv

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pythonDebsRoot is the root, inside the repository, of the metadata tree that
// Debian's python3-* packages install (testdata/python-debs/README.md).
const pythonDebsRoot = "handler/internal/testenv/testdata/python-debs"

// PythonDistPackages is where in an image the Debian packages put their
// distributions, and in the python-debs tree.
const PythonDistPackages = "usr/lib/python3/dist-packages"

// PythonDebsEntries returns the python-debs tree as layer entries, paths relative to
// the image root, in lexical order.
func PythonDebsEntries(t testing.TB) []TarEntry {
	t.Helper()
	root := filepath.Join(RepoRoot(t), pythonDebsRoot)
	var entries []TarEntry
	err := filepath.WalkDir(filepath.Join(root, "usr"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		entries = append(entries, File(filepath.ToSlash(rel), string(body)))
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", pythonDebsRoot, err)
	}
	if len(entries) == 0 {
		t.Fatalf("%s holds no file", pythonDebsRoot)
	}
	return entries
}

// PythonInventory is the ground truth of the python-debs tree installed under
// prefix (the image path its usr/ is at, "" for the root): every distribution
// Debian's own importlib.metadata (/usr/bin/python3) finds in its dist-packages, name
// as its metadata writes it, version, and the metadata file's image path. It reads
// the tree in the repository, never the scanner's output.
func PythonInventory(t testing.TB, prefix string) []AppPackage {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), pythonDebsRoot, PythonDistPackages)
	const script = `
import importlib.metadata, json, os, sys
out = []
for d in importlib.metadata.distributions(path=[sys.argv[1]]):
    meta = "METADATA" if str(d._path).endswith(".dist-info") else "PKG-INFO"
    out.append({"name": d.metadata["Name"], "version": d.version,
                "file": os.path.join(os.path.basename(str(d._path)), meta)})
json.dump(out, sys.stdout)
`
	out, err := exec.Command(debianPython, "-c", script, dir).Output()
	if err != nil {
		missing(t, "%s cannot list distributions with importlib.metadata: %v", debianPython, err)
	}
	var dists []struct{ Name, Version, File string }
	if err := json.Unmarshal(out, &dists); err != nil {
		t.Fatalf("decoding importlib.metadata's answer: %v\n%s", err, out)
	}
	pkgs := make([]AppPackage, 0, len(dists))
	for _, d := range dists {
		loc := strings.TrimPrefix(prefix+"/"+PythonDistPackages+"/"+d.File, "/")
		pkgs = append(pkgs, AppPackage{Name: d.Name, Version: d.Version, Location: loc})
	}
	slices.SortFunc(pkgs, func(a, b AppPackage) int { return strings.Compare(a.Location, b.Location) })
	if len(pkgs) == 0 {
		t.Fatalf("importlib.metadata finds no distribution in %s", dir)
	}
	return pkgs
}

// NPMInventory is the installed tree of a shared fixture's sidecar (npmInventory,
// read from its lockfile when the image was built) as application packages, each
// at <project>/<path>/package.json, project being where the image holds the lockfile
// ("app" for node-app).
func NPMInventory(t testing.TB, image, project string) []AppPackage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Shared(t), "images", image+".json"))
	if err != nil {
		t.Fatalf("reading sidecar of %s: %v", image, err)
	}
	var s struct {
		NPMInventory *struct {
			PackageCount int `json:"packageCount"`
			Packages     []struct {
				Name, Path, Version string
			} `json:"packages"`
		} `json:"npmInventory"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decoding sidecar of %s: %v", image, err)
	}
	if s.NPMInventory == nil || len(s.NPMInventory.Packages) != s.NPMInventory.PackageCount {
		t.Fatalf("sidecar of %s has no npmInventory, or not packageCount packages", image)
	}
	pkgs := make([]AppPackage, 0, len(s.NPMInventory.Packages))
	for _, p := range s.NPMInventory.Packages {
		pkgs = append(pkgs, AppPackage{Name: p.Name, Version: p.Version, Location: project + "/" + p.Path + "/package.json"})
	}
	slices.SortFunc(pkgs, func(a, b AppPackage) int { return strings.Compare(a.Location, b.Location) })
	return pkgs
}
