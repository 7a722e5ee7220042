package cli_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// readSidecar reads a fixture's ground truth (also used by output_test.go).
func readSidecar(t *testing.T, image string) testenv.Sidecar {
	t.Helper()
	return testenv.ReadSidecar(t, image)
}

// ---- Tidewatch's JSON, decoded by this test ----

type scanJSON struct {
	Image     string `json:"image"`
	Platforms []struct {
		Platform string `json:"platform"`
		Digest   string `json:"digest"`
		Status   string `json:"status"`
		OS       *struct {
			ID        string `json:"id"`
			VersionID string `json:"versionId"`
			Ecosystem string `json:"ecosystem"`
		} `json:"os"`
		AdvisorySource string            `json:"advisorySource"`
		Packages       map[string]int    `json:"packages"`
		Unmatched      []json.RawMessage `json:"unmatched"`
		Skipped        []json.RawMessage `json:"skipped"`
		Error          string            `json:"error"`
		Findings       []json.RawMessage `json:"findings"`
	} `json:"platforms"`
	Skipped []json.RawMessage `json:"skipped"`
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
	oracle := testenv.NewDebianOracle(t)
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
				if diff := cmp.Diff(truth.ManifestDigests(), gotDigests); diff != "" {
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
					if p.Status != "scanned" || p.OS == nil || p.OS.Ecosystem != "Debian:12" || p.AdvisorySource != "Debian" {
						t.Errorf("status %q os %+v advisory source %q, want scanned Debian:12 from Debian (%s)", p.Status, p.OS, p.AdvisorySource, p.Error)
					}
					if want := len(truth.DpkgInventory[p.Platform].Packages); p.Packages["Debian:12"] != want {
						t.Errorf("packages %v, want Debian:12 %d (the sidecar's count)", p.Packages, want)
					}
					if len(p.Findings) == 0 {
						t.Fatal("no findings; every Debian fixture has packages below a bookworm-security fix")
					}
					inv := map[string]testenv.DpkgPackage{}
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
						// The JSON has no architecture and no source version: those come from the sidecar.
						gotPkg := testenv.DpkgPackage{Package: f.Package, Version: f.InstalledVersion, Architecture: want.Architecture,
							SourcePackage: f.SourcePackage, SourceVersion: want.SourceVersion,
							IntroducedInLayer: f.Layer.Index, IntroducedInLayerDiffID: f.Layer.DiffID}
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
						if f.FixStatus == "fixed" && !oracle.Dpkg().Less(t, f.InstalledVersion, f.FixedVersion) {
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
						if rec := "DEBIAN-" + f.ID; oracle.HasRecord(rec) && slices.Contains(f.Aliases, rec) {
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
	type key struct{ ID, Package string }
	want := map[key]bool{}
	layered := readSidecar(t, "debian12-layered").DpkgInventory["linux/amd64"].Packages
	for _, f := range testenv.NewDebianOracle(t).Findings(t, layered) {
		want[key{f.ID, f.Package}] = true
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

func TestScanWithoutTheDistributionsAdvisoriesIsNotClean(t *testing.T) {
	// The default ecosystems (Debian) hold no Alpine advisories.
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
			t.Errorf("%s: %d findings without the distribution's advisories", p.Platform, len(p.Findings))
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
	open.Push(t, "debian12-minbase", "demo/app:1")
	locked := testenv.StartRegistry(t, testenv.WithBasicAuth("scanner", "s3cret-pw"))
	locked.Push(t, "debian12-minbase", "demo/app:1")

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
			if diff := cmp.Diff(truth.ManifestDigests(), digests); diff != "" {
				t.Errorf("platform -> digest (-sidecar +scan):\n%s", diff)
			}
		})
	}
}

func mentionsUnauthorized(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, "401") || strings.Contains(l, "unauthorized")
}
