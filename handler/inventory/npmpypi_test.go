package inventory_test

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

// appRow is what the ground truth of an application package says, plus where the
// scan must place it.
type appRow struct {
	Name, Version, Location, Ecosystem, PURL string
	LayerIndex                               int
	LayerDiffID                              string
}

// pep503 is PEP 503's normalization, written here from the PEP (not Tidewatch's).
func pep503(name string) string {
	return strings.ToLower(regexp.MustCompile(`[-_.]+`).ReplaceAllString(name, "-"))
}

// truthRows turns ground-truth packages into rows: PURLs as the purl-spec writes
// them for npm (names as is; no fixture package is scoped) and PyPI (PEP 503 names).
func truthRows(t *testing.T, pkgs []testenv.AppPackage, ecosystem string, layer int, diffID string) []appRow {
	t.Helper()
	rows := make([]appRow, 0, len(pkgs))
	for _, p := range pkgs {
		purl := fmt.Sprintf("pkg:npm/%s@%s", p.Name, p.Version)
		if ecosystem == "PyPI" {
			purl = fmt.Sprintf("pkg:pypi/%s@%s", pep503(p.Name), p.Version)
		} else if strings.Contains(p.Name, "@") {
			t.Fatalf("scoped package %s: the test writes no scoped PURL", p.Name)
		}
		rows = append(rows, appRow{p.Name, p.Version, p.Location, ecosystem, purl, layer, diffID})
	}
	slices.SortFunc(rows, func(a, b appRow) int { return strings.Compare(a.Location, b.Location) })
	return rows
}

func inventoryRows(inv *inventory.Inventory) []appRow {
	rows := []appRow{}
	for _, p := range inv.Packages {
		rows = append(rows, appRow{p.Name, p.Version, p.Location, p.Ecosystem, p.PURL, p.LayerIndex, p.LayerDiffID})
	}
	slices.SortFunc(rows, func(a, b appRow) int { return strings.Compare(a.Location, b.Location) })
	return rows
}

func TestApplicationInventoriesEqualTheirGroundTruth(t *testing.T) {
	t.Run("node-app is its sidecar's 52 installed packages, each at its package.json, not its lockfile again", func(t *testing.T) {
		target, err := image.FromArchive(testenv.Image(t, "node-app"))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := inventory.Scan(context.Background(), target.Platforms[0], inventory.NewMemoryCache())
		if err != nil {
			t.Fatal(err)
		}
		diffID := testenv.ReadSidecar(t, "node-app").Manifests[0].Layers[0].DiffID
		want := truthRows(t, testenv.NPMInventory(t, "node-app", "app"), "npm", 0, diffID)
		if len(want) != 52 {
			t.Fatalf("the sidecar lists %d packages, its README 52", len(want))
		}
		if diff := gocmp.Diff(want, inventoryRows(inv)); diff != "" {
			t.Errorf("packages (-sidecar +scanned):\n%s", diff)
		}
		if inv.OS != nil || len(inv.Skipped) != 0 {
			t.Errorf("OS %+v skipped %+v, want no OS and nothing skipped", inv.OS, inv.Skipped)
		}
	})
	t.Run("Debian's python3-* distributions are what importlib.metadata lists, in the layer above the base", func(t *testing.T) {
		base := testenv.GzipLayer(t, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease)))
		python := testenv.GzipLayer(t, testenv.Tar(testenv.PythonDebsEntries(t)...))
		inv := scanLayers(t, base, python)
		diffID, err := python.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		want := truthRows(t, testenv.PythonInventory(t, ""), "PyPI", 1, diffID.String())
		if diff := gocmp.Diff(want, inventoryRows(inv)); diff != "" {
			t.Errorf("packages (-importlib.metadata +scanned):\n%s", diff)
		}
	})
}

func TestApplicationFilesAreInventoriedOnlyWhereInstalledAndNeverSilentlyDropped(t *testing.T) {
	pkgJSON := func(name, version string) string {
		return fmt.Sprintf(`{"name": %q, "version": %q, "main": "index.js"}`, name, version)
	}
	metadata := func(name, version string) string {
		return fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: s\n\nlong description\n", name, version)
	}
	lockfile := func(entries int) func() io.Reader {
		return func() io.Reader {
			var b strings.Builder
			b.WriteString(`{"name":"x","lockfileVersion":3,"packages":{"":{"name":"x"}`)
			for i := range entries {
				fmt.Fprintf(&b, `,"node_modules/p%d":{"version":"1.0.%d"}`, i, i)
			}
			b.WriteString("}}")
			return strings.NewReader(b.String())
		}
	}
	sized := func(name string, body func() io.Reader) testenv.TarEntry {
		n, _ := io.Copy(io.Discard, body())
		return testenv.TarEntry{Name: name, Size: n, Body: body}
	}
	tests := []struct {
		name        string
		entries     []testenv.TarEntry
		wantPkgs    []string
		wantSkipped []string
	}{
		{name: "a scoped package is named with its scope",
			entries:  []testenv.TarEntry{testenv.File("app/node_modules/@types/node/package.json", pkgJSON("@types/node", "20.1.0"))},
			wantPkgs: []string{"@types/node=20.1.0 app/node_modules/@types/node/package.json pkg:npm/%40types/node@20.1.0"}},
		{name: "a project's own package.json and a package's inner package.json files are no installed packages",
			entries: []testenv.TarEntry{testenv.File("app/package.json", pkgJSON("app", "1.0.0")),
				testenv.File("app/node_modules/a/package.json", pkgJSON("a", "1.0.0")),
				testenv.File("app/node_modules/a/test/fixture/package.json", pkgJSON("fixture", "9.9.9")),
				testenv.File("app/node_modules/a/esm/package.json", `{"type": "module"}`)},
			wantPkgs: []string{"a=1.0.0 app/node_modules/a/package.json pkg:npm/a@1.0.0"}},
		{name: "npm's hidden lockfile inside node_modules is not a second inventory",
			entries: []testenv.TarEntry{testenv.File("app/node_modules/a/package.json", pkgJSON("a", "1.0.0")),
				sized("app/node_modules/.package-lock.json", lockfile(3))},
			wantPkgs: []string{"a=1.0.0 app/node_modules/a/package.json pkg:npm/a@1.0.0"}},
		{name: "a pnpm package.json hard-linked to its content store is read once, at its node_modules path",
			entries: []testenv.TarEntry{testenv.File("root/.pnpm-store/v3/files/ab/cdef", pkgJSON("a", "1.0.0")),
				testenv.Hardlink("app/node_modules/.pnpm/a@1.0.0/node_modules/a/package.json", "root/.pnpm-store/v3/files/ab/cdef")},
			wantPkgs: []string{"a=1.0.0 app/node_modules/.pnpm/a@1.0.0/node_modules/a/package.json pkg:npm/a@1.0.0"}},
		{name: "a store file hard-linked to an installed package.json is no second package",
			entries: []testenv.TarEntry{testenv.File("app/node_modules/a/package.json", pkgJSON("a", "1.0.0")),
				testenv.Hardlink("root/.pnpm-store/v3/files/ab/cdef", "app/node_modules/a/package.json")},
			wantPkgs: []string{"a=1.0.0 app/node_modules/a/package.json pkg:npm/a@1.0.0"}},
		{name: "a METADATA symlinked into place is followed",
			entries:  []testenv.TarEntry{testenv.File("opt/meta/x", metadata("x", "1.0")), testenv.Symlink("site/x-1.0.dist-info/METADATA", "/opt/meta/x")},
			wantPkgs: []string{"x=1.0 site/x-1.0.dist-info/METADATA pkg:pypi/x@1.0"}},
		{name: "package.json links that loop among node_modules are skipped, naming each, and the installed package beside them is read",
			entries: []testenv.TarEntry{testenv.File("app/node_modules/c/package.json", pkgJSON("c", "3.0.0")),
				testenv.Symlink("app/node_modules/a/package.json", "../b/package.json"),
				testenv.Symlink("app/node_modules/b/package.json", "/app/node_modules/a/package.json")},
			wantPkgs:    []string{"c=3.0.0 app/node_modules/c/package.json pkg:npm/c@3.0.0"},
			wantSkipped: []string{"app/node_modules/a/package.json", "app/node_modules/b/package.json"}},
		{name: "node_modules directories linked in a loop hold no package and stop nothing",
			entries: []testenv.TarEntry{testenv.File("app/node_modules/c/package.json", pkgJSON("c", "3.0.0")),
				testenv.Symlink("app/node_modules/a", "b"), testenv.Symlink("app/node_modules/b", "a"),
				testenv.Symlink("app/node_modules/c/node_modules/c", "../..")},
			wantPkgs: []string{"c=3.0.0 app/node_modules/c/package.json pkg:npm/c@3.0.0"}},
		{name: "an installed package.json that is not JSON is skipped",
			entries:     []testenv.TarEntry{testenv.File("app/node_modules/a/package.json", "{\"name\": \"a\", \"version\": ")},
			wantSkipped: []string{"app/node_modules/a/package.json"}},
		{name: "an installed package.json over 8 MiB is skipped, not read whole",
			entries: []testenv.TarEntry{sized("app/node_modules/a/package.json", func() io.Reader {
				return io.MultiReader(strings.NewReader(`{"name":"a","version":"1.0.0","x":"`), io.LimitReader(&testenv.RepeatReader{S: "x"}, 9<<20), strings.NewReader(`"}`))
			})},
			wantSkipped: []string{"app/node_modules/a/package.json"}},
		{name: "a lockfile of more entries than its bound is skipped, not parsed for minutes",
			entries:     []testenv.TarEntry{sized("app/package-lock.json", lockfile(20_000))},
			wantSkipped: []string{"app/package-lock.json"}},
		{name: "a lockfile over 2 MiB is skipped",
			entries: []testenv.TarEntry{sized("app/package-lock.json", func() io.Reader {
				return io.MultiReader(strings.NewReader(`{"name":"x","lockfileVersion":3,"x":"`), io.LimitReader(&testenv.RepeatReader{S: "x"}, 3<<20), strings.NewReader(`"}`))
			})},
			wantSkipped: []string{"app/package-lock.json"}},
		{name: "a lockfile entry without a registry version is left out",
			entries:  []testenv.TarEntry{testenv.File("app/package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/l":{"link":true,"resolved":"../l"},"node_modules/a":{"version":"1.0.0"}}}`)},
			wantPkgs: []string{"a=1.0.0 app/package-lock.json pkg:npm/a@1.0.0"}},
		{name: "dist-info, egg-info directories and single-file egg-info are read; wheels and stray METADATA are not",
			entries: []testenv.TarEntry{testenv.File("site/Foo_Bar-1.0.dist-info/METADATA", metadata("Foo_Bar", "1.0")),
				testenv.File("site/baz-2.0.egg-info/PKG-INFO", metadata("baz", "2.0")),
				testenv.File("site/qux-3.0.egg-info", metadata("qux", "3.0")),
				testenv.File("cache/wheels/x-1.0-py3-none-any.whl", "PK\x03\x04"),
				testenv.File("site/notes/METADATA", metadata("nope", "1"))},
			wantPkgs: []string{"Foo_Bar=1.0 site/Foo_Bar-1.0.dist-info/METADATA pkg:pypi/foo-bar@1.0",
				"baz=2.0 site/baz-2.0.egg-info/PKG-INFO pkg:pypi/baz@2.0", "qux=3.0 site/qux-3.0.egg-info pkg:pypi/qux@3.0"}},
		{name: "a METADATA without a name or version is skipped",
			entries:     []testenv.TarEntry{testenv.File("site/x-1.dist-info/METADATA", "Metadata-Version: 2.1\nSummary: none\n")},
			wantSkipped: []string{"site/x-1.dist-info/METADATA"}},
		{name: "a METADATA header line longer than the parser reads is skipped",
			entries:     []testenv.TarEntry{testenv.File("site/x-1.dist-info/METADATA", "Metadata-Version: 2.1\nSummary: "+strings.Repeat("y", 1<<20)+"\nName: x\nVersion: 1\n")},
			wantSkipped: []string{"site/x-1.dist-info/METADATA"}},
		{name: "a METADATA header over 8 MiB is skipped, not held",
			entries: []testenv.TarEntry{{Name: "site/x-1.dist-info/METADATA", Size: 10 << 20, Body: func() io.Reader {
				return io.MultiReader(strings.NewReader("Name: x\nVersion: 1\n"), io.LimitReader(&testenv.RepeatReader{S: "Requires-Dist: y\n"}, 10<<20-19))
			}}},
			wantSkipped: []string{"site/x-1.dist-info/METADATA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := scanLayers(t, newStreamedLayer(t, testenv.Tar(tt.entries...)))
			got := []string{}
			for _, p := range inv.Packages {
				got = append(got, p.Name+"="+p.Version+" "+p.Location+" "+p.PURL)
			}
			slices.Sort(got)
			if tt.wantPkgs == nil {
				tt.wantPkgs = []string{}
			}
			if diff := gocmp.Diff(tt.wantPkgs, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(tt.wantSkipped, skippedPaths(inv)); diff != "" {
				t.Errorf("skipped (-want +got):\n%s\n%+v", diff, inv.Skipped)
			}
			for _, s := range inv.Skipped {
				if s.Reason == "" {
					t.Errorf("%s is skipped without a reason", s.Path)
				}
			}
		})
	}
}
