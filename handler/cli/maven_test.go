package cli_test

import (
	"bytes"
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

// mavenFindingJSON is what the Maven tests check of a finding.
type mavenFindingJSON struct {
	ID           string `json:"id"`
	Package      string `json:"package"`
	Ecosystem    string `json:"ecosystem"`
	Installed    string `json:"installedVersion"`
	FixedVersion string `json:"fixedVersion"`
	Location     string `json:"location"`
	PURL         string `json:"purl"`
	Layer        struct {
		Index int `json:"index"`
	} `json:"layer"`
}

// jarFile is a layer entry holding a jar.
func jarFile(name string, data []byte) testenv.TarEntry {
	return testenv.TarEntry{Name: name, Size: int64(len(data)), Body: func() io.Reader { return bytes.NewReader(data) }}
}

func TestScanOfAJavaImageHasTheMavenOraclesFindingsAtEveryJarNestedOnesIncluded(t *testing.T) {
	commonsIO, text := testenv.MavenJar(t, "commons-io.jar"), testenv.MavenJar(t, "commons-text.jar")
	// A log4j-core 2.14.1 as Maven builds it: only its pom.properties matters here.
	log4j := testenv.Zip(t, testenv.ZipEntry{Name: "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
		Body: []byte("#Created by Apache Maven 3.6.3\nversion=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n")})
	boot := testenv.SpringBootJar(t, map[string][]byte{"commons-io-2.11.0.jar": commonsIO, "commons-text-1.10.0.jar": text, "log4j-core-2.14.1.jar": log4j})
	bomb := testenv.Zip(t, testenv.ZipEntry{Name: "lib/a.jar", Body: commonsIO})
	for range 19 {
		bomb = testenv.Zip(t, testenv.ZipEntry{Name: "lib/a.jar", Body: bomb})
	}
	layerOf := map[string]int{"usr/share/java/commons-io.jar": 0, "usr/share/java/commons-text.jar": 0, "app/app.jar": 1}
	var truth []testenv.MavenPackage
	for location, data := range map[string][]byte{"usr/share/java/commons-io.jar": commonsIO, "usr/share/java/commons-text.jar": text, "app/app.jar": boot} {
		truth = append(truth, testenv.ReadMavenPackages(t, location, data)...)
	}
	advisories := testenv.MavenAdvisories(t)
	want := testenv.NewMavenOracle(t, advisories).Findings(t, truth)
	if len(want) != 3 {
		t.Fatalf("the Maven oracle finds %d findings, want 3 (commons-io twice, log4j-core once): %+v", len(want), want)
	}
	base := []func(io.Writer) error{
		testenv.Tar(jarFile("usr/share/java/commons-io.jar", commonsIO), jarFile("usr/share/java/commons-text.jar", text)),
		testenv.Tar(jarFile("app/app.jar", boot)),
	}
	tests := []struct {
		name        string
		layers      []func(io.Writer) error
		wantStatus  string
		wantSkipped []string
	}{
		{name: "the image is scanned", layers: base, wantStatus: "scanned", wantSkipped: []string{}},
		{name: "a jar bomb beside the jars leaves the platform incomplete, listing it, with the same findings",
			layers:     append(slices.Clone(base), testenv.Tar(jarFile("opt/bomb.jar", bomb))),
			wantStatus: "incomplete", wantSkipped: []string{"opt/bomb.jar: java/archive could not read it whole: lib/a.jar!/lib/a.jar!/lib/a.jar!/lib/a.jar is nested more than 4 archives deep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" with exactly the oracle's findings, each at its jar and layer", func(t *testing.T) {
			r := runCLI(t, "", "scan", "--archive", testenv.DockerArchive(t, tt.layers...), "--advisories", advisories,
				"--ecosystems", "Maven", "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			if p.Status != tt.wantStatus || p.OS != nil || p.Packages["Maven"] != len(truth) {
				t.Errorf("status %q os %+v packages %v (%s), want %s, os null, %d Maven packages", p.Status, p.OS, p.Packages, p.Error, tt.wantStatus, len(truth))
			}
			skipped := []string{}
			for _, raw := range p.Skipped {
				var s struct{ Path, Reason string }
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatal(err)
				}
				skipped = append(skipped, s.Path+": "+s.Reason)
			}
			if diff := cmp.Diff(tt.wantSkipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
			findings := []testenv.ExpectedFinding{}
			for _, raw := range p.Findings {
				var f mavenFindingJSON
				if err := json.Unmarshal(raw, &f); err != nil {
					t.Fatal(err)
				}
				findings = append(findings, testenv.ExpectedFinding{ID: f.ID, Package: f.Package + " " + f.Location, FixedVersion: f.FixedVersion})
				outer, _, _ := strings.Cut(f.Location, "!/")
				group, artifact, _ := strings.Cut(f.Package, ":")
				if f.Ecosystem != "Maven" || f.Layer.Index != layerOf[outer] || f.PURL != "pkg:maven/"+group+"/"+artifact+"@"+f.Installed {
					t.Errorf("%s on %s at %s: ecosystem %q layer %d purl %q", f.ID, f.Package, f.Location, f.Ecosystem, f.Layer.Index, f.PURL)
				}
			}
			if diff := cmp.Diff(want, findings); diff != "" {
				t.Errorf("findings (-Maven oracle +scan):\n%s", diff)
			}
		})
	}
}

func TestScanOfAJavaImageWithoutMavenAdvisoriesLoadedIsUnsupportedNeverClean(t *testing.T) {
	archive := testenv.DockerArchive(t, testenv.Tar(jarFile("usr/share/java/commons-io.jar", testenv.MavenJar(t, "commons-io.jar"))))
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--ecosystems", "Debian", "--format", "json", "--exit-code", "1")
	if r.code != 1 {
		t.Errorf("exit code = %d, want 1 (nothing could be matched); stderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) != 1 {
		t.Fatalf("%d platforms, want 1", len(got.Platforms))
	}
	p := got.Platforms[0]
	var unmatched []struct {
		Ecosystem string `json:"ecosystem"`
		Packages  int    `json:"packages"`
	}
	for _, raw := range p.Unmatched {
		var u struct {
			Ecosystem string `json:"ecosystem"`
			Packages  int    `json:"packages"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		unmatched = append(unmatched, u)
	}
	if p.Status != "unsupported" || p.Packages["Maven"] != 1 || len(unmatched) != 1 || unmatched[0].Ecosystem != "Maven" || unmatched[0].Packages != 1 {
		t.Errorf("status %q packages %v unmatched %+v, want unsupported with the 1 Maven package unmatched", p.Status, p.Packages, unmatched)
	}
}

func TestScanOfADebianJavaImageMatchesItsDebPackagesAndItsJarsEachInTheirOwnEcosystem(t *testing.T) {
	commonsIO, text := testenv.MavenJar(t, "commons-io.jar"), testenv.MavenJar(t, "commons-text.jar")
	// The image apt-get install libcommons-io-java libcommons-text-java openssl
	// would leave: the packages in dpkg's database and Debian's jars in /usr/share/java.
	status := testenv.OpensslStanza +
		"Package: libcommons-io-java\nStatus: install ok installed\nArchitecture: all\nSource: commons-io\nVersion: 2.11.0-2\n\n" +
		"Package: libcommons-text-java\nStatus: install ok installed\nArchitecture: all\nSource: commons-text\nVersion: 1.10.0-1\n\n"
	archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", testenv.BookwormOSRelease), testenv.File(testenv.DpkgStatus, status),
		jarFile("usr/share/java/commons-io.jar", commonsIO), jarFile("usr/share/java/commons-text.jar", text)))
	advisories := testenv.MavenAdvisories(t)
	if err := os.Symlink(filepath.Join(testenv.Advisories(t), "Debian"), filepath.Join(advisories, "Debian")); err != nil {
		t.Fatal(err)
	}
	var truth []testenv.MavenPackage
	truth = append(truth, testenv.ReadMavenPackages(t, "usr/share/java/commons-io.jar", commonsIO)...)
	truth = append(truth, testenv.ReadMavenPackages(t, "usr/share/java/commons-text.jar", text)...)
	wantMaven := testenv.NewMavenOracle(t, advisories).Findings(t, truth)
	wantDebian := []string{}
	for _, f := range testenv.NewDebianOracle(t).Findings(t, []testenv.DpkgPackage{
		{Package: "openssl", Version: "3.0.0-1", SourcePackage: "openssl", SourceVersion: "3.0.0-1"},
		{Package: "libcommons-io-java", Version: "2.11.0-2", SourcePackage: "commons-io", SourceVersion: "2.11.0-2"},
		{Package: "libcommons-text-java", Version: "1.10.0-1", SourcePackage: "commons-text", SourceVersion: "1.10.0-1"},
	}) {
		wantDebian = append(wantDebian, f.ID+" "+f.Package)
	}
	if len(wantMaven) == 0 || len(wantDebian) == 0 {
		t.Fatalf("the oracles find %d Maven and %d Debian findings; the fixture needs both", len(wantMaven), len(wantDebian))
	}
	r := runCLI(t, "", "scan", "--archive", archive, "--advisories", advisories, "--ecosystems", "Debian,Maven", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) != 1 {
		t.Fatalf("%d platforms, want 1", len(got.Platforms))
	}
	p := got.Platforms[0]
	if diff := cmp.Diff(map[string]int{"Debian:12": 3, "Maven": 2}, p.Packages); p.Status != "scanned" || diff != "" {
		t.Errorf("status %q (%s), want scanned; packages (-want +got):\n%s", p.Status, p.Error, diff)
	}
	gotMaven, gotDebian := []testenv.ExpectedFinding{}, []string{}
	for _, raw := range p.Findings {
		var f mavenFindingJSON
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		switch f.Ecosystem {
		case "Maven":
			gotMaven = append(gotMaven, testenv.ExpectedFinding{ID: f.ID, Package: f.Package + " " + f.Location, FixedVersion: f.FixedVersion})
		case "Debian:12":
			gotDebian = append(gotDebian, f.ID+" "+f.Package)
		default:
			t.Errorf("%s on %s: ecosystem %q", f.ID, f.Package, f.Ecosystem)
		}
	}
	sort.Strings(gotDebian)
	sort.Strings(wantDebian)
	if diff := cmp.Diff(wantMaven, gotMaven); diff != "" {
		t.Errorf("Maven findings (-Maven oracle +scan):\n%s", diff)
	}
	if diff := cmp.Diff(wantDebian, gotDebian); diff != "" {
		t.Errorf("Debian findings (-Debian oracle +scan):\n%s", diff)
	}
}
