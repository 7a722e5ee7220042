package match_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
)

// sidecarPackage is one package of an image sidecar's dpkgInventory, read without
// any scanner when the fixture was built.
type sidecarPackage struct {
	Package       string `json:"package"`
	Version       string `json:"version"`
	Architecture  string `json:"architecture"`
	SourcePackage string `json:"sourcePackage"`
	SourceVersion string `json:"sourceVersion"`
	Layer         int    `json:"introducedInLayer"`
	LayerDiffID   string `json:"introducedInLayerDiffID"`
}

func sidecarInventory(t *testing.T, image string) map[string][]sidecarPackage {
	t.Helper()
	raw, err := os.ReadFile(strings.TrimSuffix(testenv.Image(t, image), ".tar") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var sidecar struct {
		DpkgInventory map[string]struct {
			Packages []sidecarPackage `json:"packages"`
		} `json:"dpkgInventory"`
	}
	if err := json.Unmarshal(raw, &sidecar); err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]sidecarPackage)
	for platform, inv := range sidecar.DpkgInventory {
		out[platform] = inv.Packages
	}
	return out
}

// testRecord is an OSV record as this test reads it, independently of package advisory.
type testRecord struct {
	ID        string   `json:"id"`
	Withdrawn string   `json:"withdrawn"`
	Aliases   []string `json:"aliases"`
	Upstream  []string `json:"upstream"`
	Affected  []struct {
		Package struct{ Ecosystem, Name string } `json:"package"`
		Ranges  []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		Versions []string `json:"versions"`
	} `json:"affected"`
}

// debianRecordsBySource reads every record of the shared Debian export, keyed by the
// Debian:12 source package its affected entries name.
func debianRecordsBySource(t *testing.T) map[string][]*testRecord {
	t.Helper()
	zr, err := zip.OpenReader(filepath.Join(testenv.Advisories(t), "Debian", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := make(map[string][]*testRecord)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		rec := new(testRecord)
		if err := json.Unmarshal(body, rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if rec.Withdrawn != "" {
			continue
		}
		for _, a := range rec.Affected {
			if a.Package.Ecosystem == "Debian:12" {
				out[a.Package.Name] = append(out[a.Package.Name], rec)
			}
		}
	}
	return out
}

// expectedRow is what the test checks of each finding.
type expectedRow struct {
	ID, Package, FixedVersion, LayerDiffID string
}

// expectFindings decides with dpkg which records affect each installed source
// version. The shared Debian data has only "introduced"/"fixed" ECOSYSTEM events and
// names one CVE per record; the test fails if that ever stops being true.
func expectFindings(t *testing.T, d *dpkg, records map[string][]*testRecord, pkgs []sidecarPackage) []expectedRow {
	t.Helper()
	fixes := make(map[expectedRow][]string) // keyed with FixedVersion unset
	for _, p := range pkgs {
		for _, rec := range records[p.SourcePackage] {
			cve := recordCVE(t, rec)
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != "Debian:12" || a.Package.Name != p.SourcePackage {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; this test does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					if fixed, affected := evaluateWithDpkg(t, d, rec.ID, r.Type, r.Events, p.SourceVersion); affected {
						key := expectedRow{ID: cve, Package: p.Package, LayerDiffID: p.LayerDiffID}
						fixes[key] = append(fixes[key], fixed)
					}
				}
			}
		}
	}
	// The fix for a collapsed finding is the highest, and none if any record lacks one.
	best := make(map[expectedRow]expectedRow, len(fixes))
	for key, versions := range fixes {
		row := key
		for _, v := range versions {
			if v == "" {
				row.FixedVersion = ""
				break
			}
			if row.FixedVersion == "" || d.compare(v, row.FixedVersion) > 0 {
				row.FixedVersion = v
			}
		}
		best[key] = row
	}
	rows := make([]expectedRow, 0, len(best))
	for _, r := range best {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].ID != rows[j].ID {
			return rows[i].ID < rows[j].ID
		}
		return rows[i].Package < rows[j].Package
	})
	return rows
}

func recordCVE(t *testing.T, rec *testRecord) string {
	t.Helper()
	cves := make(map[string]bool)
	for _, id := range append(append([]string{}, rec.Aliases...), rec.Upstream...) {
		if strings.HasPrefix(id, "CVE-") {
			cves[id] = true
		}
	}
	if len(cves) != 1 {
		t.Fatalf("%s names %d CVEs; this test expects exactly one", rec.ID, len(cves))
	}
	for id := range cves {
		return id
	}
	return ""
}

// evaluateWithDpkg handles ranges of the form introduced X [, fixed Y].
func evaluateWithDpkg(t *testing.T, d *dpkg, id, typ string, events []map[string]string, version string) (string, bool) {
	t.Helper()
	if typ != "ECOSYSTEM" {
		t.Fatalf("%s has a %s range; this test evaluates ECOSYSTEM only", id, typ)
	}
	var introduced, fixed string
	for _, e := range events {
		for k, v := range e {
			switch k {
			case "introduced":
				introduced = v
			case "fixed":
				fixed = v
			default:
				t.Fatalf("%s has a %s event; this test evaluates introduced/fixed only", id, k)
			}
		}
	}
	if introduced == "" || len(events) > 2 {
		t.Fatalf("%s has a range of unexpected shape %v", id, events)
	}
	if introduced != "0" && !d.holds(version, "ge", introduced) {
		return "", false
	}
	if fixed != "" && !d.holds(version, "lt", fixed) {
		return "", false
	}
	return fixed, true
}

func TestMatchAgreesWithDpkgOnSharedImages(t *testing.T) {
	idx, err := advisory.Load(context.Background(), testenv.Advisories(t), []string{"Debian"})
	if err != nil {
		t.Fatal(err)
	}
	records := debianRecordsBySource(t)
	d := newDpkg(t)
	for _, image := range []string{"debian12-minbase", "debian12-layered", "distroless-style"} {
		for platform, sidecar := range sidecarInventory(t, image) {
			t.Run(image+" "+platform+" findings match dpkg's verdicts", func(t *testing.T) {
				want := expectFindings(t, d, records, sidecar)
				if len(want) == 0 {
					t.Fatal("the sidecar inventory yields no expected finding; the fixture changed")
				}
				pkgs := make([]inventory.Package, 0, len(sidecar))
				for _, p := range sidecar {
					pkgs = append(pkgs, inventory.Package{
						Name: p.Package, Version: p.Version, SourceName: p.SourcePackage, SourceVersion: p.SourceVersion,
						Arch: p.Architecture, Type: "deb", LayerIndex: p.Layer, LayerDiffID: p.LayerDiffID,
					})
				}
				findings, err := match.Match(idx, "Debian:12", pkgs)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]expectedRow, 0, len(findings))
				for _, f := range findings {
					got = append(got, expectedRow{ID: f.ID, Package: f.Package, FixedVersion: f.FixedVersion, LayerDiffID: f.Layer.DiffID})
					if f.FixStatus != match.FixStatusFixed {
						t.Errorf("%s/%s has FixStatus %q; every shared Debian record has a fix", f.ID, f.Package, f.FixStatus)
					}
					if f.Severity != match.SeverityUnknown {
						t.Errorf("%s/%s has severity %s; the shared data has neither CVSS nor tracker urgency", f.ID, f.Package, f.Severity)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("findings (-want +got):\n%s", diff)
				}
				t.Logf("%d findings", len(got))
			})
		}
	}
}
