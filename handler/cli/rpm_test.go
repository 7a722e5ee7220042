package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func TestScanOfAlmaLinuxHasTheRPMOraclesFindings(t *testing.T) {
	const image = "almalinux-9-micro"
	truth := readSidecar(t, image)
	oracle := testenv.NewAlmaLinuxOracle(t)
	platform := truth.Manifests[0].Platform
	layers := truth.Manifests[0].Layers
	pkgs := truth.RPMInventory[platform].Packages
	expected := oracle.Findings(t, pkgs, layers[len(layers)-1].DiffID)
	if len(expected) == 0 {
		t.Fatal("the oracle expects no finding: the fixture or the advisory data is not what this test is about")
	}
	r := scanArchive(t, image, "--ecosystems", "AlmaLinux", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) != 1 {
		t.Fatalf("%d platforms, want 1", len(got.Platforms))
	}
	p := got.Platforms[0]
	t.Run("the platform is scanned as AlmaLinux:9 with every rpm package", func(t *testing.T) {
		if p.Status != "scanned" || p.OS == nil || p.OS.Ecosystem != "AlmaLinux:9" || p.AdvisorySource != "AlmaLinux" {
			t.Errorf("status %q (%s), OS %+v, advisory source %q; want scanned AlmaLinux:9 from AlmaLinux", p.Status, p.Error, p.OS, p.AdvisorySource)
		}
		if diff := cmp.Diff(map[string]int{"AlmaLinux:9": len(pkgs)}, p.Packages); diff != "" {
			t.Errorf("packages per ecosystem (-sidecar +scan):\n%s", diff)
		}
	})
	t.Run("findings equal the oracle's, by advisory and binary package", func(t *testing.T) {
		installed := map[string]string{}
		for _, pkg := range pkgs {
			installed[pkg.Package] = pkg.EVR()
		}
		var want, have []string
		for _, f := range expected {
			want = append(want, strings.Join([]string{f.ID, f.Package, installed[f.Package], f.FixedVersion, f.LayerDiffID}, " "))
		}
		for _, raw := range p.Findings {
			f := decodeFinding(t, raw)
			if f.Ecosystem != "AlmaLinux:9" {
				t.Errorf("%s %s has ecosystem %q", f.ID, f.Package, f.Ecosystem)
			}
			have = append(have, strings.Join([]string{f.ID, f.Package, f.InstalledVersion, f.FixedVersion, f.Layer.DiffID}, " "))
		}
		sort.Strings(want)
		sort.Strings(have)
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("findings as id package installed fixed layer (-oracle +scan):\n%s", diff)
		}
	})
}

func TestScanOfARealMarinerRPMDBWithoutItsAdvisoriesIsNeverClean(t *testing.T) {
	db, err := os.ReadFile(testenv.MarinerRPMDB(t))
	if err != nil {
		t.Fatal(err)
	}
	want := testenv.RPMQueryAll(t, testenv.MarinerRPMDB(t))
	tests := []struct {
		name       string
		db         string
		wantStatus string
		wantError  string
		wantCounts map[string]int
	}{
		{name: "its packages are counted under Azure Linux:2.0 and reported not matched, never clean",
			db: string(db), wantStatus: "unsupported", wantError: "Azure Linux:2.0",
			wantCounts: map[string]int{"Azure Linux:2.0": len(want)}},
		{name: "garbage in its place makes the platform incomplete, never clean",
			db: strings.Repeat("\x00garbage", 4096), wantStatus: "incomplete", wantError: "var/lib/rpm/rpmdb.sqlite",
			wantCounts: map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", testenv.MarinerOSRelease),
				testenv.File("var/lib/rpm/rpmdb.sqlite", tt.db)))
			r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t),
				"--ecosystems", "AlmaLinux", "--format", "json", "--exit-code", "3")
			if r.code != 3 {
				t.Errorf("exit code = %d, want 3; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			if p.Status != tt.wantStatus || !strings.Contains(p.Error, tt.wantError) {
				t.Errorf("status %q (%s), want %q mentioning %q", p.Status, p.Error, tt.wantStatus, tt.wantError)
			}
			if diff := cmp.Diff(tt.wantCounts, p.Packages); diff != "" {
				t.Errorf("packages per ecosystem (-want +scan):\n%s", diff)
			}
			if len(p.Findings) != 0 {
				t.Errorf("%d findings, want none", len(p.Findings))
			}
		})
	}
}

// TestScanOfARealMarinerRPMDBHasTheOVALOraclesFindings syncs the Azure Linux folder
// from Microsoft's OVAL documents in ../shared/oval with the CLI (conversion,
// verification, compiling: the deployed path), scans a layer of the real CBL-Mariner
// 2.0 rpmdb.sqlite, and compares with an oracle that reads the OVAL XML and orders
// versions with rpm's own labelCompare.
func TestScanOfARealMarinerRPMDBHasTheOVALOraclesFindings(t *testing.T) {
	pkgs := testenv.RPMQueryAll(t, testenv.MarinerRPMDB(t))
	out := t.TempDir()
	sync := runCLI(t, "", "advisories", "sync", "--source", t.TempDir(), "--oval-source", filepath.Join(testenv.Shared(t), "oval"),
		"--ecosystems", "Azure Linux", "--severity-source", "", "--out", out)
	if sync.code != 0 {
		t.Fatalf("advisories sync: exit %d\n%s%s", sync.code, sync.stdout, sync.stderr)
	}
	// The synced generation's compiled blob, laid out as an export folder.
	blobs, err := filepath.Glob(filepath.Join(out, "Azure Linux", "*.idx"))
	if err != nil || len(blobs) != 1 {
		t.Fatalf("synced blobs %v (%v), want one", blobs, err)
	}
	export := t.TempDir()
	idx, err := os.ReadFile(blobs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(export, "Azure Linux"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(export, "Azure Linux", "all.zip"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(testenv.MarinerRPMDB(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, osRelease, oval, ecosystem string }{
		{"CBL-Mariner 2.0, the system the database is from", testenv.MarinerOSRelease, "cbl-mariner-2.0-oval.xml", "Azure Linux:2.0"},
		// The same packages under Azure Linux 3.0's os-release: the 3.0 definitions
		// apply, not the 2.0 ones the same folder holds.
		{"the same packages in an image saying Azure Linux 3.0", "NAME=\"Microsoft Azure Linux\"\nVERSION=\"3.0.20240824\"\nID=azurelinux\nVERSION_ID=\"3.0\"\n",
			"azurelinux-3.0-oval.xml", "Azure Linux:3.0"},
	} {
		t.Run(tc.name+" has the findings of "+tc.oval, func(t *testing.T) {
			expected := testenv.AzureLinuxFindings(t, tc.oval, pkgs)
			if len(expected) == 0 {
				t.Fatal("the oracle expects no finding: the fixture or the OVAL data is not what this test is about")
			}
			archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", tc.osRelease),
				testenv.File("var/lib/rpm/rpmdb.sqlite", string(db))))
			r := runCLI(t, "", "scan", "--archive", archive, "--advisories", export, "--no-cache",
				"--ecosystems", "Azure Linux", "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			if p.Status != "scanned" || p.OS == nil || p.OS.Ecosystem != tc.ecosystem {
				t.Errorf("status %q (%s), OS %+v; want scanned %s", p.Status, p.Error, p.OS, tc.ecosystem)
			}
			// The oracle lists each affecting definition; Tidewatch reports one finding per
			// CVE and package, with the highest fix of its definitions.
			fixes := map[string][]string{}
			for _, f := range expected {
				k := strings.Join([]string{f.CVE, f.Package, f.Installed}, " ")
				fixes[k] = append(fixes[k], f.Fixed)
			}
			var want, have []string
			for k := range fixes {
				want = append(want, k)
			}
			for _, raw := range p.Findings {
				f := decodeFinding(t, raw)
				k := strings.Join([]string{f.ID, f.Package, f.InstalledVersion}, " ")
				have = append(have, k)
				if fs, ok := fixes[k]; ok && !slices.Contains(fs, f.FixedVersion) {
					t.Errorf("%s: fixed %q, want one of the definitions' %q", k, f.FixedVersion, fs)
				}
			}
			sort.Strings(want)
			sort.Strings(have)
			if diff := cmp.Diff(want, have); diff != "" {
				t.Errorf("findings as CVE package installed (-oracle +scan):\n%s", diff)
			}
		})
	}
}
