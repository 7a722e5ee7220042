package cli_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// appFindingJSON is what a test checks of an application package's finding.
type appFindingJSON struct {
	ID       string `json:"id"`
	Package  string `json:"package"`
	Location string `json:"location"`
	Layer    struct {
		DiffID string `json:"diffID"`
		Index  int    `json:"index"`
	} `json:"layer"`
}

func TestScanOfAGoBinaryWithoutOSReleaseHasTheGoOraclesFindings(t *testing.T) {
	truth := readSidecar(t, "go-app")
	binaryLayer := truth.Manifests[0].Layers[0].DiffID
	want := []string{}
	for _, f := range testenv.NewGoOracle(t).Findings(t, testenv.ReadGoBinary(t, "go-app").Modules(t)) {
		want = append(want, f.ID+" "+f.Package)
	}
	if len(want) == 0 {
		t.Fatal("the Go oracle finds nothing in go-app; the fixture or the advisory data changed")
	}
	archive, advisories := testenv.Image(t, "go-app"), testenv.Advisories(t)
	for _, tt := range []struct {
		name    string
		environ []string
		flags   []string
	}{
		{name: "with --ecosystems Debian,Go", flags: []string{"--ecosystems", "Debian,Go"}},
		{name: "with TIDEWATCH_ECOSYSTEMS=Debian,Go", environ: []string{"TIDEWATCH_ECOSYSTEMS=Debian,Go"}},
	} {
		t.Run(tt.name+" it is scanned, OS none, with exactly the oracle's findings in app/go-app", func(t *testing.T) {
			args := append([]string{"scan", "--archive", archive, "--advisories", advisories, "--format", "json"}, tt.flags...)
			r := runCLIWithEnviron(t, tt.environ, "", args...)
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			if p.Status != "scanned" || p.OS != nil {
				t.Errorf("status %q os %+v (%s), want scanned with os null", p.Status, p.OS, p.Error)
			}
			if diff := cmp.Diff(want, idPackages(t, p.Findings)); diff != "" {
				t.Errorf("(id, package) (-Go oracle +scan):\n%s", diff)
			}
			for _, raw := range p.Findings {
				var f appFindingJSON
				if err := json.Unmarshal(raw, &f); err != nil {
					t.Fatal(err)
				}
				if f.Location != "app/go-app" || f.Layer.DiffID != binaryLayer || f.Layer.Index != 0 {
					t.Errorf("%s on %s: location %q layer %d %s, want app/go-app in layer 0 %s",
						f.ID, f.Package, f.Location, f.Layer.Index, f.Layer.DiffID, binaryLayer)
				}
			}
		})
	}
}

func TestScanOfACleanPlatformPrintsAnEmptyFindingsArrayAndExitsZero(t *testing.T) {
	archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease),
		testenv.File(testenv.DpkgStatus, "Package: tidewatch-nothing\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n\n")))
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", "json", "--exit-code", "1")
	if r.code != 0 {
		t.Errorf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"findings": []`) || strings.Contains(r.stdout, "null") {
		t.Errorf("JSON lacks \"findings\": [] or holds a null:\n%s", r.stdout)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) != 1 || got.Platforms[0].Status != "scanned" || got.Platforms[0].Packages["Debian:12"] != 1 {
		t.Errorf("platforms %+v, want one scanned with 1 Debian:12 package", got.Platforms)
	}
}

// kernelStatus is a dpkg status of n binary packages built from source linux.
func kernelStatus(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Package: linux-image-%d\nStatus: install ok installed\nArchitecture: amd64\nSource: linux\nVersion: 6.1.191-1\n\n", i)
	}
	return b.String()
}

func TestScanOutputGrowsLinearlyInThePackagesOfOneSource(t *testing.T) {
	oracle := testenv.NewDebianOracle(t)
	sizes := map[int]int{}
	for _, n := range []int{10, 50} {
		var pkgs []testenv.DpkgPackage
		for i := range n {
			pkgs = append(pkgs, testenv.DpkgPackage{Package: fmt.Sprintf("linux-image-%d", i), Version: "6.1.191-1",
				SourcePackage: "linux", SourceVersion: "6.1.191-1"})
		}
		want := []string{}
		for _, f := range oracle.Findings(t, pkgs) {
			want = append(want, f.ID+" "+f.Package)
		}
		sort.Strings(want)
		archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File(testenv.DpkgStatus, kernelStatus(n))))
		r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--format", "json")
		if r.code != 0 {
			t.Fatalf("%d packages: exit code = %d; stderr:\n%s", n, r.code, r.stderr)
		}
		got := decodeScan(t, r)
		if diff := cmp.Diff(want, idPackages(t, got.Platforms[0].Findings)); diff != "" {
			t.Errorf("%d packages: (id, package) (-oracle +scan):\n%.2000s", n, diff)
		}
		sizes[n] = len(r.stdout)
		t.Logf("%d packages of source linux: %d findings, %d bytes of JSON", n, len(got.Platforms[0].Findings), len(r.stdout))
	}
	// Five times the packages, five times the findings: about five times the bytes.
	// Remediations listing every binary of the source would make it twenty-five.
	if ratio := float64(sizes[50]) / float64(sizes[10]); ratio < 4.5 || ratio > 5.5 {
		t.Errorf("JSON for 50 packages is %.1f times that for 10, want about 5", ratio)
	}
}
