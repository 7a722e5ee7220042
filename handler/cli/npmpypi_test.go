package cli_test

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// appFindingRow is what the npm and PyPI tests compare of a finding, as "id package
// location fixed".
func appFindingRows(t *testing.T, findings []json.RawMessage, ecosystem string) []string {
	t.Helper()
	rows := []string{}
	for _, raw := range findings {
		f := decodeFinding(t, raw)
		var extra struct {
			Location string `json:"location"`
			PURL     string `json:"purl"`
		}
		if err := json.Unmarshal(raw, &extra); err != nil {
			t.Fatal(err)
		}
		if f.Ecosystem != ecosystem {
			t.Errorf("%s on %s: ecosystem %q, want %q", f.ID, f.Package, f.Ecosystem, ecosystem)
		}
		if !strings.HasPrefix(extra.PURL, "pkg:"+strings.ToLower(ecosystem)+"/") || !strings.HasSuffix(extra.PURL, "@"+f.InstalledVersion) {
			t.Errorf("%s on %s %s: purl %q", f.ID, f.Package, f.InstalledVersion, extra.PURL)
		}
		rows = append(rows, strings.Join([]string{f.ID, f.Package, extra.Location, f.FixedVersion}, " "))
	}
	return rows
}

// oracleRows are an oracle's findings as appFindingRows writes them, in the CLI's
// order (id, package, location).
func oracleRows(findings []testenv.AppFinding) []string {
	rows := []string{}
	for _, f := range findings {
		rows = append(rows, strings.Join([]string{f.ID, f.Package, f.Location, f.FixedVersion}, " "))
	}
	return rows
}

// fixtureLayerFile reads one file out of the single layer of a shared fixture.
func fixtureLayerFile(t *testing.T, image, path string) string {
	t.Helper()
	archive, layer := testenv.Image(t, image), readSidecar(t, image).Manifests[0].Layers[0].Digest
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(copyLayer(pw, archive, layer)) }()
	defer pr.Close()
	lr := tar.NewReader(pr)
	for {
		h, err := lr.Next()
		if err != nil {
			t.Fatalf("no %s in %s's layer: %v", path, image, err)
		}
		if h.Name == path {
			b, err := io.ReadAll(lr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// atLocation moves packages to one location (a lockfile that lists them all).
func atLocation(pkgs []testenv.AppPackage, location string) []testenv.AppPackage {
	out := make([]testenv.AppPackage, len(pkgs))
	for i, p := range pkgs {
		p.Location = location
		out[i] = p
	}
	return out
}

func TestScansOfNPMProjectsHaveExactlyTheSemverOraclesFindings(t *testing.T) {
	oracle := testenv.NewNPMOracle(t)
	installed := testenv.NPMInventory(t, "node-app", "app")
	lockfile := fixtureLayerFile(t, "node-app", "app/package-lock.json")
	manifest := fixtureLayerFile(t, "node-app", "app/package.json")
	tests := []struct {
		name     string
		archive  func(t *testing.T) string
		pkgs     []testenv.AppPackage
		packages int
	}{
		{name: "node-app's installed tree is inventoried once, not again from its lockfile",
			archive: func(t *testing.T) string { return testenv.Image(t, "node-app") }, pkgs: installed, packages: 52},
		{name: "a project with a lockfile and no node_modules is inventoried from the lockfile",
			archive: func(t *testing.T) string {
				return testenv.DockerArchive(t, testenv.Tar(testenv.File("app/package.json", manifest), testenv.File("app/package-lock.json", lockfile)))
			},
			pkgs: atLocation(installed, "app/package-lock.json"), packages: 52},
		{name: "a lockfile elsewhere than the installed tree's project is inventoried too",
			archive: func(t *testing.T) string {
				archive, layer := testenv.Image(t, "node-app"), readSidecar(t, "node-app").Manifests[0].Layers[0].Digest
				return testenv.DockerArchive(t, testenv.Tar(testenv.File("srv/other/package-lock.json", lockfile)),
					func(w io.Writer) error { return copyLayer(w, archive, layer) })
			},
			pkgs: append(atLocation(installed, "srv/other/package-lock.json"), installed...), packages: 104},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := oracleRows(oracle.Findings(t, tt.pkgs))
			if len(want) == 0 {
				t.Fatal("the npm oracle finds nothing; the fixture or the advisory data changed")
			}
			r := runCLI(t, "", "scan", "--archive", tt.archive(t), "--advisories", testenv.Advisories(t),
				"--ecosystems", "npm", "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			if p.Status != "scanned" || p.OS != nil || p.Packages["npm"] != tt.packages {
				t.Errorf("status %q os %+v packages %v (%s), want scanned, os null, %d npm packages", p.Status, p.OS, p.Packages, p.Error, tt.packages)
			}
			if diff := cmp.Diff(want, appFindingRows(t, p.Findings, "npm")); diff != "" {
				t.Errorf("id package location fixed (-semver oracle +scan):\n%s", diff)
			}
		})
	}
}

// copyLayer writes the uncompressed layer layerDigest of the image archive to w.
func copyLayer(w io.Writer, archive, layerDigest string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return err
		}
		if hdr.Name == "blobs/"+strings.Replace(layerDigest, ":", "/", 1) {
			zr, err := gzip.NewReader(tr)
			if err != nil {
				return err
			}
			_, err = io.Copy(w, zr)
			return err
		}
	}
}

func TestScansOfDebianPythonPackagesHaveExactlyThePackagingOraclesFindings(t *testing.T) {
	oracle := testenv.NewPyPIOracle(t)
	entries := testenv.PythonDebsEntries(t)
	all := testenv.PythonInventory(t, "")
	requestsDir := testenv.PythonDistPackages + "/requests-2.28.1.egg-info"
	var withoutRequests []testenv.AppPackage
	for _, p := range all {
		if !strings.HasPrefix(p.Location, requestsDir+"/") {
			withoutRequests = append(withoutRequests, p)
		}
	}
	if len(withoutRequests) != len(all)-1 {
		t.Fatalf("the python-debs tree has no %s", requestsDir)
	}
	tests := []struct {
		name   string
		layers []func(io.Writer) error
		pkgs   []testenv.AppPackage
	}{
		{name: "the Debian python3-* distributions in one layer", layers: []func(io.Writer) error{testenv.Tar(entries...)}, pkgs: all},
		{name: "a distribution whose metadata directory an upper layer deletes is gone",
			layers: []func(io.Writer) error{testenv.Tar(entries...), testenv.Tar(testenv.File(testenv.PythonDistPackages+"/.wh.requests-2.28.1.egg-info", ""))},
			pkgs:   withoutRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := oracleRows(oracle.Findings(t, tt.pkgs))
			if len(want) == 0 {
				t.Fatal("the PyPI oracle finds nothing; the fixture or the advisory data changed")
			}
			r := runCLI(t, "", "scan", "--archive", testenv.DockerArchive(t, tt.layers...), "--advisories", testenv.Advisories(t),
				"--ecosystems", "PyPI", "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			p := got.Platforms[0]
			if p.Status != "scanned" || p.Packages["PyPI"] != len(tt.pkgs) {
				t.Errorf("status %q packages %v (%s), want scanned with %d PyPI packages", p.Status, p.Packages, p.Error, len(tt.pkgs))
			}
			if diff := cmp.Diff(want, appFindingRows(t, p.Findings, "PyPI")); diff != "" {
				t.Errorf("id package location fixed (-packaging oracle +scan):\n%s", diff)
			}
		})
	}
}

func TestNodeAppScannedWithoutNPMAdvisoriesIsUnsupportedNeverClean(t *testing.T) {
	r := runCLI(t, "", "scan", "--archive", testenv.Image(t, "node-app"), "--advisories", testenv.Advisories(t),
		"--ecosystems", "Go", "--format", "json", "--exit-code", "3")
	if r.code != 3 {
		t.Errorf("exit code = %d, want 3 (nothing could be matched); stderr:\n%s", r.code, r.stderr)
	}
	p := decodeScan(t, r).Platforms[0]
	if p.Status != "unsupported" || len(p.Findings) != 0 || p.Packages["npm"] != 52 {
		t.Errorf("status %q, %d findings, packages %v, want unsupported with 52 npm packages and no finding", p.Status, len(p.Findings), p.Packages)
	}
	if !strings.Contains(p.Error, "npm: 52 packages not matched: no advisories loaded for it") {
		t.Errorf("error %q does not say the npm packages were not matched", p.Error)
	}
}
