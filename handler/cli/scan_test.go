package cli_test

import (
	"archive/tar"
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// ---- ground truth, read without Tidewatch ----

// sidecar is the ground-truth JSON written next to each fixture image when it was built.
type sidecar struct {
	ManifestDigest string   `json:"manifestDigest"`
	Platforms      []string `json:"platforms"`
	Manifests      []struct {
		Platform       string `json:"platform"`
		ManifestDigest string `json:"manifestDigest"`
	} `json:"manifests"`
	DpkgInventory map[string]struct {
		Packages        []sidecarPackage `json:"packages"`
		RemovedPackages []struct {
			Package string `json:"package"`
			Version string `json:"version"`
		} `json:"removedPackages"`
	} `json:"dpkgInventory"`
}

// sidecarPackage is one dpkg-query line of a sidecar's inventory.
type sidecarPackage struct {
	Package       string `json:"package"`
	Version       string `json:"version"`
	SourcePackage string `json:"sourcePackage"`
	SourceVersion string `json:"sourceVersion"`
	Layer         int    `json:"introducedInLayer"`
	LayerDiffID   string `json:"introducedInLayerDiffID"`
}

func readSidecar(t *testing.T, image string) sidecar {
	t.Helper()
	raw, err := os.ReadFile(strings.TrimSuffix(testenv.Image(t, image), ".tar") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var s sidecar
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decoding sidecar of %s: %v", image, err)
	}
	return s
}

// manifestDigests maps each platform of the sidecar to its OCI manifest digest.
func (s sidecar) manifestDigests() map[string]string {
	out := map[string]string{}
	for _, m := range s.Manifests {
		out[m.Platform] = m.ManifestDigest
	}
	return out
}

// osvRecord is a Debian OSV record as this test reads it.
type osvRecord struct {
	ID        string   `json:"id"`
	Withdrawn string   `json:"withdrawn"`
	Aliases   []string `json:"aliases"`
	Upstream  []string `json:"upstream"`
	Affected  []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

// cve returns the CVE the record is about, or its own id.
func (r *osvRecord) cve() string {
	for _, a := range append(append([]string{}, r.Aliases...), r.Upstream...) {
		if strings.HasPrefix(a, "CVE-") {
			return a
		}
	}
	return r.ID
}

// debianRecords is the shared Debian OSV export, by id and by Debian:12 source package.
type debianRecords struct {
	byID     map[string]*osvRecord
	bySource map[string][]*osvRecord
}

// recordCache reads each Debian export once per test binary.
type recordCache struct {
	mu   sync.Mutex
	recs map[string]*debianRecords
}

var debianExports = &recordCache{recs: map[string]*debianRecords{}}

func (c *recordCache) load(advisories string) (*debianRecords, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.recs[advisories]; ok {
		return r, nil
	}
	path := filepath.Join(advisories, "Debian", "all.zip")
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	recs := &debianRecords{byID: map[string]*osvRecord{}, bySource: map[string][]*osvRecord{}}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("opening %s in %s: %w", f.Name, path, err)
		}
		var r osvRecord
		err = json.NewDecoder(rc).Decode(&r)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("decoding %s in %s: %w", f.Name, path, err)
		}
		recs.byID[r.ID] = &r
		seen := map[string]bool{}
		for _, a := range r.Affected {
			if a.Package.Ecosystem == "Debian:12" && !seen[a.Package.Name] {
				seen[a.Package.Name] = true
				recs.bySource[a.Package.Name] = append(recs.bySource[a.Package.Name], &r)
			}
		}
	}
	c.recs[advisories] = recs
	return recs, nil
}

func debianAdvisories(t *testing.T) *debianRecords {
	t.Helper()
	recs, err := debianExports.load(testenv.Advisories(t))
	if err != nil {
		t.Fatalf("reading the Debian OSV export: %v", err)
	}
	if len(recs.byID) == 0 {
		t.Fatal("the Debian OSV export holds no records")
	}
	return recs
}

// dpkgVersions compares Debian versions with dpkg itself, caching each answer.
type dpkgVersions struct {
	mu   sync.Mutex
	less map[[2]string]bool
}

var dpkg = &dpkgVersions{less: map[[2]string]bool{}}

// lessThan reports whether a < b per `dpkg --compare-versions a lt b`.
func (d *dpkgVersions) lessThan(t *testing.T, a, b string) bool {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	key := [2]string{a, b}
	if v, ok := d.less[key]; ok {
		return v
	}
	err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		d.less[key] = true
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 1:
		d.less[key] = false
	default:
		t.Fatalf("dpkg --compare-versions %q lt %q: %v", a, b, err)
	}
	return d.less[key]
}

// affects reports whether the record's Debian:12 ranges for source cover version.
func (r *osvRecord) affects(t *testing.T, source, version string) bool {
	for _, a := range r.Affected {
		if a.Package.Ecosystem != "Debian:12" || a.Package.Name != source {
			continue
		}
		for _, rg := range a.Ranges {
			if rg.Type != "ECOSYSTEM" {
				continue
			}
			introduced, fixed := "", ""
			for _, ev := range rg.Events {
				if v, ok := ev["introduced"]; ok {
					introduced = v
				}
				if v, ok := ev["fixed"]; ok {
					fixed = v
				}
			}
			if introduced != "0" && introduced != "" && dpkg.lessThan(t, version, introduced) {
				continue
			}
			if fixed == "" || dpkg.lessThan(t, version, fixed) {
				return true
			}
		}
	}
	return false
}

// ---- Tidewatch's JSON, decoded by this test ----

type scanJSON struct {
	Image     string `json:"image"`
	Platforms []struct {
		Platform  string            `json:"platform"`
		Digest    string            `json:"digest"`
		Status    string            `json:"status"`
		Ecosystem string            `json:"ecosystem"`
		Error     string            `json:"error"`
		Findings  []json.RawMessage `json:"findings"`
	} `json:"platforms"`
}

type findingJSON struct {
	ID               string   `json:"id"`
	Aliases          []string `json:"aliases"`
	Package          string   `json:"package"`
	SourcePackage    string   `json:"sourcePackage"`
	Ecosystem        string   `json:"ecosystem"`
	InstalledVersion string   `json:"installedVersion"`
	FixedVersion     string   `json:"fixedVersion"`
	FixStatus        string   `json:"fixStatus"`
	Severity         string   `json:"severity"`
	Layer            struct {
		DiffID string `json:"diffID"`
		Index  int    `json:"index"`
	} `json:"layer"`
	Remediation string `json:"remediation"`
}

func decodeScan(t *testing.T, r cliRun) scanJSON {
	t.Helper()
	var out scanJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not scan JSON (%v); exit %d, stderr:\n%s", err, r.code, r.stderr)
	}
	return out
}

// findingFields are the keys DESIGN.md "CLI" lists for a JSON finding (cvss is
// omitted when a record has none, as in the shared Debian data).
var findingFields = []string{"id", "aliases", "package", "sourcePackage", "ecosystem",
	"installedVersion", "fixedVersion", "fixStatus", "severity", "layer", "remediation"}

// decodeFinding checks raw has every documented field and decodes it.
func decodeFinding(t *testing.T, raw json.RawMessage) findingJSON {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatalf("finding is not an object: %v: %s", err, raw)
	}
	for _, k := range findingFields {
		if _, ok := keys[k]; !ok {
			t.Errorf("finding lacks %q: %s", k, raw)
		}
	}
	var layer map[string]json.RawMessage
	if err := json.Unmarshal(keys["layer"], &layer); err != nil {
		t.Errorf("finding layer is not an object: %s", raw)
	}
	for _, k := range []string{"diffID", "index"} {
		if _, ok := layer[k]; !ok {
			t.Errorf("finding layer lacks %q: %s", k, raw)
		}
	}
	var f findingJSON
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("decoding finding: %v: %s", err, raw)
	}
	return f
}

func scanArchive(t *testing.T, image string, extra ...string) cliRun {
	t.Helper()
	args := append([]string{"scan", "--archive", testenv.Image(t, image), "--advisories", testenv.Advisories(t)}, extra...)
	return scans.run(t, args...)
}

// ---- tests ----

func TestScanArchiveReportsSidecarPlatformsAndPackages(t *testing.T) {
	recs := debianAdvisories(t)
	for _, image := range []string{"debian12-minbase", "debian12-layered", "debian12-multiarch", "distroless-style"} {
		t.Run(image, func(t *testing.T) {
			truth := readSidecar(t, image)
			r := scanArchive(t, image, "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)

			t.Run("platforms are the sidecar's with their manifest digests", func(t *testing.T) {
				gotDigests := map[string]string{}
				for _, p := range got.Platforms {
					gotDigests[p.Platform] = p.Digest
				}
				if diff := cmp.Diff(truth.manifestDigests(), gotDigests); diff != "" {
					t.Errorf("platform -> digest (-sidecar +scan):\n%s", diff)
				}
				var gotNames []string
				for _, p := range got.Platforms {
					gotNames = append(gotNames, p.Platform)
				}
				sort.Strings(gotNames)
				want := append([]string{}, truth.Platforms...)
				sort.Strings(want)
				if diff := cmp.Diff(want, gotNames); diff != "" {
					t.Errorf("platforms (-sidecar +scan):\n%s", diff)
				}
			})

			for _, p := range got.Platforms {
				t.Run(p.Platform+" findings describe sidecar packages", func(t *testing.T) {
					if p.Status != "scanned" || p.Ecosystem != "Debian:12" {
						t.Errorf("status %q ecosystem %q, want scanned Debian:12 (%s)", p.Status, p.Ecosystem, p.Error)
					}
					if len(p.Findings) == 0 {
						t.Fatal("no findings; every Debian fixture has packages below a bookworm-security fix")
					}
					inv := map[string]sidecarPackage{}
					for _, pkg := range truth.DpkgInventory[p.Platform].Packages {
						inv[pkg.Package] = pkg
					}
					for _, raw := range p.Findings {
						f := decodeFinding(t, raw)
						want, ok := inv[f.Package]
						if !ok {
							t.Errorf("%s reported for %q, which the sidecar does not list as installed", f.ID, f.Package)
							continue
						}
						gotPkg := sidecarPackage{Package: f.Package, Version: f.InstalledVersion, SourcePackage: f.SourcePackage,
							SourceVersion: want.SourceVersion, Layer: f.Layer.Index, LayerDiffID: f.Layer.DiffID}
						if diff := cmp.Diff(want, gotPkg); diff != "" {
							t.Errorf("%s on %s (-sidecar +scan):\n%s", f.ID, f.Package, diff)
						}
						if f.Ecosystem != "Debian:12" {
							t.Errorf("%s on %s: ecosystem %q, want Debian:12", f.ID, f.Package, f.Ecosystem)
						}
						for field, v := range map[string]string{"id": f.ID, "fixStatus": f.FixStatus,
							"severity": f.Severity, "remediation": f.Remediation} {
							if v == "" {
								t.Errorf("%s on %s: empty %s", f.ID, f.Package, field)
							}
						}
						if f.FixStatus == "fixed" && !dpkg.lessThan(t, f.InstalledVersion, f.FixedVersion) {
							t.Errorf("%s on %s: fixedVersion %q is not above installed %q per dpkg",
								f.ID, f.Package, f.FixedVersion, f.InstalledVersion)
						}
					}
				})
			}

			t.Run("some finding is a CVE aliased to its DEBIAN-CVE record", func(t *testing.T) {
				for _, p := range got.Platforms {
					for _, raw := range p.Findings {
						f := decodeFinding(t, raw)
						if !strings.HasPrefix(f.ID, "CVE-") {
							continue
						}
						rec, ok := recs.byID["DEBIAN-"+f.ID]
						if ok && slices.Contains(f.Aliases, rec.ID) {
							return
						}
					}
				}
				t.Error("no finding has a CVE id whose aliases hold an existing DEBIAN-CVE record id")
			})
		})
	}
}

func TestScanArchiveOmitsPackagesAbsentFromThePlatform(t *testing.T) {
	layered := readSidecar(t, "debian12-layered").DpkgInventory["linux/amd64"]
	var removed []string
	for _, p := range layered.RemovedPackages {
		removed = append(removed, p.Package)
	}
	if len(removed) == 0 {
		t.Fatal("the layered sidecar lists no removedPackages")
	}
	multi := readSidecar(t, "debian12-multiarch").DpkgInventory
	onArm := map[string]bool{}
	for _, p := range multi["linux/arm64/v8"].Packages {
		onArm[p.Package] = true
	}
	var amd64Only []string
	for _, p := range multi["linux/amd64"].Packages {
		if !onArm[p.Package] {
			amd64Only = append(amd64Only, p.Package)
		}
	}
	if !slices.Contains(amd64Only, "apt") || !slices.Contains(amd64Only, "perl-base") {
		t.Fatalf("the multiarch sidecar no longer has apt and perl-base on amd64 only: %v", amd64Only)
	}
	tests := []struct {
		name     string
		image    string
		platform string
		absent   []string
	}{
		{name: "packages purged by a later layer are not reported", image: "debian12-layered",
			platform: "linux/amd64", absent: removed},
		{name: "the arm64 platform has none of the amd64-only packages", image: "debian12-multiarch",
			platform: "linux/arm64/v8", absent: amd64Only},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeScan(t, scanArchive(t, tt.image, "--format", "json"))
			seen := false
			for _, p := range got.Platforms {
				if p.Platform != tt.platform {
					continue
				}
				seen = true
				for _, raw := range p.Findings {
					if f := decodeFinding(t, raw); slices.Contains(tt.absent, f.Package) {
						t.Errorf("%s reported on %s, which is not installed on %s", f.ID, f.Package, tt.platform)
					}
				}
			}
			if !seen {
				t.Fatalf("no platform %s in the scan", tt.platform)
			}
		})
	}
}

func TestScanLayeredFindingsEqualIndependentMatch(t *testing.T) {
	recs := debianAdvisories(t)
	type key struct{ ID, Package string }
	want := map[key]bool{}
	for _, pkg := range readSidecar(t, "debian12-layered").DpkgInventory["linux/amd64"].Packages {
		for _, r := range recs.bySource[pkg.SourcePackage] {
			if r.Withdrawn == "" && r.affects(t, pkg.SourcePackage, pkg.SourceVersion) {
				want[key{r.cve(), pkg.Package}] = true
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("independent match found nothing; the fixture or the advisory data changed")
	}
	gotScan := decodeScan(t, scanArchive(t, "debian12-layered", "--format", "json"))
	got := map[key]bool{}
	for _, p := range gotScan.Platforms {
		for _, raw := range p.Findings {
			f := decodeFinding(t, raw)
			got[key{f.ID, f.Package}] = true
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(id, package) of debian12-layered (-independent +scan):\n%s", diff)
	}
}

func TestScanFailuresAreErrorsNeverClean(t *testing.T) {
	shared := testenv.Advisories(t)
	truncated := filepath.Join(t.TempDir(), "truncated.tar")
	copyPrefix(t, testenv.Image(t, "debian12-minbase"), truncated, 10<<20)
	missingDir := filepath.Join(t.TempDir(), "no-such-advisories")

	tests := []struct {
		name       string
		archive    string
		advisories string
		environ    []string
		wantStderr []string
	}{
		{name: "a file that is not an image archive", archive: "testdata/not-an-image.txt",
			advisories: shared, wantStderr: []string{"reading image archive", "not-an-image.txt"}},
		{name: "a truncated image archive", archive: truncated,
			advisories: shared, wantStderr: []string{"reading image archive", "truncated"}},
		{name: "a missing advisories directory", archive: testenv.Image(t, "debian12-minbase"),
			advisories: missingDir, wantStderr: []string{"advisor", "no-such-advisories"}},
		{name: "an advisories directory without all.zip", archive: testenv.Image(t, "debian12-minbase"),
			advisories: "testdata/advisories-without-zip", wantStderr: []string{"advisor", "all.zip"}},
		{name: "an advisories zip holding zero records", archive: testenv.Image(t, "debian12-minbase"),
			advisories: "testdata/advisories-zero-records", wantStderr: []string{"advisor", "no usable record"}},
		{name: "an empty advisories flag", archive: testenv.Image(t, "debian12-minbase"),
			advisories: "", wantStderr: []string{"--advisories"}},
		{name: "TIDEWATCH_ADVISORIES_URL naming a zip of zero records", archive: testenv.Image(t, "debian12-minbase"),
			environ:    []string{"TIDEWATCH_ADVISORIES_URL=testdata/advisories-zero-records"},
			wantStderr: []string{"advisor", "advisories-zero-records", "no usable record"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"scan", "--archive", tt.archive, "--format", "json"}
			if tt.environ == nil {
				args = append(args, "--advisories", tt.advisories)
			}
			r := runCLIWithEnviron(t, tt.environ, "", args...)
			if r.code == 0 {
				t.Fatalf("exit code 0; stdout:\n%s", r.stdout)
			}
			if r.code != 1 {
				t.Errorf("exit code = %d, want 1", r.code)
			}
			if strings.Contains(r.stdout, `"findings"`) {
				t.Errorf("printed a result despite failing:\n%s", r.stdout)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

func TestScanUnsupportedDistroIsNotClean(t *testing.T) {
	r := scanArchive(t, "alpine-3.4", "--format", "json", "--exit-code", "4")
	if r.code != 4 {
		t.Errorf("exit code = %d, want 4 (an unmatched platform is not clean); stderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	truth := readSidecar(t, "alpine-3.4")
	var statuses []string
	for _, p := range got.Platforms {
		statuses = append(statuses, p.Platform+" "+p.Status+" "+p.Digest)
		if len(p.Findings) != 0 {
			t.Errorf("%s: %d findings for an unsupported distro", p.Platform, len(p.Findings))
		}
	}
	var want []string
	for _, m := range truth.Manifests {
		want = append(want, m.Platform+" unsupported "+m.ManifestDigest)
	}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("platform status digest (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.stderr, "linux/amd64") || !strings.Contains(r.stderr, "unsupported") {
		t.Errorf("stderr does not say linux/amd64 is unsupported:\n%s", r.stderr)
	}
}

// copyPrefix copies the first n bytes of src to dst.
func copyPrefix(t *testing.T, src, dst string, n int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestScanRegistryReference(t *testing.T) {
	truth := readSidecar(t, "debian12-minbase")
	advisories := testenv.Advisories(t)
	open := testenv.StartRegistry(t)
	pushArchive(t, testenv.Image(t, "debian12-minbase"), open.Ref("demo/app:1"), nil)
	locked := testenv.StartRegistry(t, testenv.WithBasicAuth("scanner", "s3cret-pw"))
	pushArchive(t, testenv.Image(t, "debian12-minbase"), locked.Ref("demo/app:1"),
		&authn.Basic{Username: "scanner", Password: "s3cret-pw"})

	tests := []struct {
		name       string
		ref        string
		flags      []string
		stdin      string
		wantCode   int
		wantStderr []string
		// wantUnauthorized asks for "401" or "unauthorized" in stderr.
		wantUnauthorized bool
	}{
		{name: "a pushed image is scanned at the sidecar's manifest digest", ref: open.Ref("demo/app:1"), wantCode: 0},
		{name: "a tag that does not exist fails naming the reference", ref: open.Ref("demo/missing:1"),
			wantCode: 1, wantStderr: []string{open.Ref("demo/missing:1")}},
		{name: "basic auth with the password on stdin works", ref: locked.Ref("demo/app:1"),
			flags: []string{"--username", "scanner", "--password-stdin"}, stdin: "s3cret-pw\n", wantCode: 0},
		{name: "missing credentials fail as unauthorized", ref: locked.Ref("demo/app:1"),
			wantCode: 1, wantStderr: []string{locked.Ref("demo/app:1")}, wantUnauthorized: true},
		{name: "a wrong password fails as unauthorized", ref: locked.Ref("demo/app:1"),
			flags: []string{"--username", "scanner", "--password-stdin"}, stdin: "wrong\n",
			wantCode: 1, wantStderr: []string{locked.Ref("demo/app:1")}, wantUnauthorized: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", tt.ref, "--advisories", advisories, "--format", "json"}, tt.flags...)
			r := runCLI(t, tt.stdin, args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantCode != 0 {
				if strings.Contains(r.stdout, `"findings"`) {
					t.Errorf("printed a result despite failing:\n%s", r.stdout)
				}
				for _, s := range tt.wantStderr {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
					}
				}
				if tt.wantUnauthorized && !mentionsUnauthorized(r.stderr) {
					t.Errorf("stderr does not mention 401/unauthorized:\n%s", r.stderr)
				}
				if strings.Contains(r.stderr, "s3cret-pw") {
					t.Errorf("stderr leaks the password:\n%s", r.stderr)
				}
				t.Logf("stderr: %s", r.stderr)
				return
			}
			got := decodeScan(t, r)
			digests := map[string]string{}
			for _, p := range got.Platforms {
				digests[p.Platform] = p.Digest
				if len(p.Findings) == 0 {
					t.Errorf("%s: no findings", p.Platform)
				}
			}
			if diff := cmp.Diff(truth.manifestDigests(), digests); diff != "" {
				t.Errorf("platform -> digest (-sidecar +scan):\n%s", diff)
			}
		})
	}
}

func mentionsUnauthorized(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, "401") || strings.Contains(l, "unauthorized")
}

// pushArchive unpacks an OCI-layout tar and pushes the single image its index.json
// names, unchanged, to ref (a plain-HTTP loopback registry).
func pushArchive(t *testing.T, archive, refStr string, auth authn.Authenticator) {
	t.Helper()
	dir := t.TempDir()
	untar(t, archive, dir)
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading OCI layout of %s: %v", archive, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("%s: index.json does not name exactly one image", archive)
	}
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(refStr, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context()), remote.WithAuth(auth)); err != nil {
		t.Fatalf("pushing %s to %s: %v", archive, refStr, err)
	}
}

// untar extracts the regular files and directories of archive under dir.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("reading %s: %v", archive, err)
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := os.Create(target)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("extracting %s from %s: %v", h.Name, archive, err)
			}
		}
	}
}
