package cli_test

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// apkFindingJSON is the part of a JSON finding an apk package's findings are
// checked on besides findingJSON.
type apkFindingJSON struct {
	Location string `json:"location"`
	PURL     string `json:"purl"`
}

func TestScanAlpineFindingsEqualIndependentMatch(t *testing.T) {
	truth := readSidecar(t, "alpine-3.4")
	ecosystem := testenv.AlpineEcosystem(t, truth.OSRelease.VersionID)
	oracle := testenv.NewAlpineOracle(t, ecosystem)
	r := scanArchive(t, "alpine-3.4", "--ecosystems", "Alpine", "--format", "json", "--exit-code", "3")
	if r.code != 3 {
		t.Fatalf("exit code = %d, want 3 (findings); stderr:\n%s", r.code, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Platforms) != len(truth.ApkInventory) {
		t.Fatalf("%d platforms, sidecar has %d apk inventories", len(got.Platforms), len(truth.ApkInventory))
	}
	layers := map[string]string{}
	for _, m := range truth.Manifests {
		layers[m.Platform] = m.Layers[len(m.Layers)-1].DiffID
	}
	for _, p := range got.Platforms {
		t.Run(p.Platform+" findings are the oracle's, on the sidecar's packages", func(t *testing.T) {
			pkgs := truth.ApkInventory[p.Platform].Packages
			if p.Status != "scanned" || p.OS == nil || p.OS.Ecosystem != ecosystem {
				t.Errorf("status %q os %+v, want scanned %s (%s)", p.Status, p.OS, ecosystem, p.Error)
			}
			if diff := gocmp.Diff(map[string]int{ecosystem: len(pkgs)}, p.Packages); diff != "" {
				t.Errorf("packages per ecosystem (-sidecar +scan):\n%s", diff)
			}
			want := oracle.Findings(t, pkgs, layers[p.Platform])
			if len(want) == 0 {
				t.Fatal("the oracle expects no finding; the fixture or the advisory data changed")
			}
			installed := map[string]testenv.ApkPackage{}
			for _, pkg := range pkgs {
				installed[pkg.Package] = pkg
			}
			var findings []testenv.ExpectedFinding
			for _, raw := range p.Findings {
				f := decodeFinding(t, raw)
				findings = append(findings, testenv.ExpectedFinding{ID: f.ID, Package: f.Package, FixedVersion: f.FixedVersion, LayerDiffID: f.Layer.DiffID})
				var where apkFindingJSON
				if err := json.Unmarshal(raw, &where); err != nil {
					t.Fatal(err)
				}
				pkg := installed[f.Package]
				gotFacts := []string{f.SourcePackage, f.InstalledVersion, f.Ecosystem, f.FixStatus, where.Location}
				wantFacts := []string{cmp.Or(pkg.Origin, pkg.Package), pkg.Version, ecosystem, "fixed", "lib/apk/db/installed"}
				if diff := gocmp.Diff(wantFacts, gotFacts); diff != "" {
					t.Errorf("%s on %s: origin, version, ecosystem, fix status, location (-sidecar +scan):\n%s", f.ID, f.Package, diff)
				}
				if !strings.HasPrefix(where.PURL, "pkg:apk/alpine/"+f.Package+"@"+pkg.Version) {
					t.Errorf("%s on %s: purl %q", f.ID, f.Package, where.PURL)
				}
			}
			slices.SortFunc(findings, func(a, b testenv.ExpectedFinding) int {
				return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package))
			})
			if diff := gocmp.Diff(want, findings); diff != "" {
				t.Errorf("(id, package, fixed version, layer) (-oracle +scan):\n%s", diff)
			}
		})
	}
}

func TestScanApkImagesWithoutAdvisoriesAreNeverClean(t *testing.T) {
	type gap struct {
		Ecosystem string `json:"ecosystem"`
		Packages  int    `json:"packages"`
		Reason    string `json:"reason"`
	}
	installed := "P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\n"
	tests := []struct {
		name, osRelease, ecosystems string
		wantUnmatched               gap
	}{
		{name: "an Alpine release the Alpine folder has no records of (v3.20) is a gap",
			osRelease: "ID=alpine\nVERSION_ID=3.20.3\n", ecosystems: "Alpine",
			wantUnmatched: gap{"Alpine:v3.20", 2, "no advisories loaded for it"}},
		{name: "Wolfi without Wolfi advisories is a gap, not Alpine's",
			osRelease: "ID=wolfi\nVERSION_ID=20230201\n", ecosystems: "Alpine",
			wantUnmatched: gap{"Wolfi", 2, "no advisories loaded for it"}},
		{name: "Alpine 3.4 without the Alpine folder loaded is a gap",
			osRelease: "ID=alpine\nVERSION_ID=3.4.0\n", ecosystems: "Debian",
			wantUnmatched: gap{"Alpine:v3.4", 2, "no advisories loaded for it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", tt.osRelease), testenv.File("lib/apk/db/installed", installed)))
			r := runCLI(t, "", "scan", "--archive", archive, "--advisories", testenv.Advisories(t), "--ecosystems", tt.ecosystems,
				"--format", "json", "--exit-code", "4")
			if r.code != 4 {
				t.Errorf("exit code = %d, want 4 (an unmatched platform is not clean); stderr:\n%s", r.code, r.stderr)
			}
			got := decodeScan(t, r)
			if len(got.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(got.Platforms))
			}
			p := got.Platforms[0]
			var unmatched []gap
			for _, raw := range p.Unmatched {
				var u gap
				if err := json.Unmarshal(raw, &u); err != nil {
					t.Fatalf("unmatched entry %s: %v", raw, err)
				}
				unmatched = append(unmatched, u)
			}
			if diff := gocmp.Diff([]gap{tt.wantUnmatched}, unmatched); diff != "" {
				t.Errorf("unmatched (-want +got):\n%s", diff)
			}
			if p.Status != "unsupported" || len(p.Findings) != 0 {
				t.Errorf("status %q with %d findings, want unsupported and none", p.Status, len(p.Findings))
			}
			if !strings.Contains(p.Error, "not matched") {
				t.Errorf("error %q does not say the packages were not matched", p.Error)
			}
		})
	}
}

func TestScanWolfiAndChainguardMatchTheirOwnAdvisoriesOnOrigin(t *testing.T) {
	installed := "P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:openssl\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:busybox\nV:1.36.1-r9\nA:x86_64\n\n"
	record := func(id, cve, ecosystem, fixed string) string {
		return `{"id":"` + id + `","modified":"2099-01-01T00:00:00Z","aliases":["` + cve + `"],"affected":[{"package":{"ecosystem":"` +
			ecosystem + `","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]}]}`
	}
	advisories := t.TempDir()
	// 3.3.2_rc1-r0 < 3.3.2-r0 < 3.3.10-r0 in apk order (3.3.10 sorts below 3.3.2 as text).
	testenv.WriteOSVExport(t, advisories, "Wolfi", map[string]string{
		"CGA-0001.json": record("CGA-0001", "CVE-2099-1001", "Wolfi", "3.3.10-r0"),
		"CGA-0002.json": record("CGA-0002", "CVE-2099-1002", "Wolfi", "3.3.2_rc1-r0"),
	})
	testenv.WriteOSVExport(t, advisories, "Chainguard", map[string]string{
		"CGA-0003.json": record("CGA-0003", "CVE-2099-1003", "Chainguard", "3.3.2-r1"),
	})
	tests := []struct {
		osRelease string
		want      []string
	}{
		{"ID=wolfi\nVERSION_ID=20230201\n", []string{
			"CVE-2099-1001 libcrypto3 openssl Wolfi 3.3.10-r0", "CVE-2099-1001 openssl openssl Wolfi 3.3.10-r0"}},
		{"ID=chainguard\nVERSION_ID=20230214\n", []string{
			"CVE-2099-1003 libcrypto3 openssl Chainguard 3.3.2-r1", "CVE-2099-1003 openssl openssl Chainguard 3.3.2-r1"}},
	}
	for _, tt := range tests {
		t.Run(strings.Fields(tt.osRelease)[0]+" is matched on origin against its own folder only", func(t *testing.T) {
			archive := testenv.DockerArchive(t, testenv.Tar(testenv.File("etc/os-release", tt.osRelease), testenv.File("lib/apk/db/installed", installed)))
			r := runCLI(t, "", "scan", "--archive", archive, "--advisories", advisories, "--ecosystems", "Wolfi,Chainguard",
				"--severity-source", "", "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit code = %d; stderr:\n%s", r.code, r.stderr)
			}
			p := decodeScan(t, r).Platforms[0]
			var got []string
			for _, raw := range p.Findings {
				f := decodeFinding(t, raw)
				got = append(got, f.ID+" "+f.Package+" "+f.SourcePackage+" "+f.Ecosystem+" "+f.FixedVersion)
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if p.Status != "scanned" {
				t.Errorf("status %q (%s), want scanned", p.Status, p.Error)
			}
		})
	}
}
