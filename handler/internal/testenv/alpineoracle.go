package testenv

import (
	"cmp"
	"slices"
	"strings"
	"testing"
)

// AlpineOracle derives the findings a scanner must report for the apk packages of
// one Alpine release independently of Tidewatch: it reads the shared OSV Alpine
// export with archive/zip and encoding/json, picks the records of the release's
// ecosystem ("Alpine:v3.4") by ORIGIN package, as Alpine's secdb names them, and
// decides every range with its own apk version comparator (CompareApkVersions),
// never with osv-scalibr or Tidewatch's advisory or match packages.
//
// It evaluates only what the shared data holds: ECOSYSTEM ranges of
// introduced/fixed events, no explicit version lists, one CVE per record, valid apk
// versions. A record outside that shape fails the test rather than being skipped.
type AlpineOracle struct {
	ecosystem string
	byOrigin  map[string][]*osvRecord
}

// AlpineEcosystem is the OSV ecosystem of an Alpine release as its os-release
// VERSION_ID names it: "3.4.0" is "Alpine:v3.4" (secdb publishes per branch).
func AlpineEcosystem(t testing.TB, versionID string) string {
	t.Helper()
	parts := strings.Split(versionID, ".")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		t.Fatalf("Alpine VERSION_ID %q has no major.minor", versionID)
	}
	return "Alpine:v" + parts[0] + "." + parts[1]
}

// NewAlpineOracle reads <Advisories>/Alpine/all.zip for ecosystem ("Alpine:v3.4").
// An unreadable export, or one without a record of ecosystem, fails the test.
func NewAlpineOracle(t testing.TB, ecosystem string) *AlpineOracle {
	t.Helper()
	x := loadOSVExport(t, "Alpine", ecosystem)
	return &AlpineOracle{ecosystem: ecosystem, byOrigin: x.byPackage}
}

// Findings returns the findings of one platform's apk packages, each introduced by
// layerDiffID, sorted by ID and Package: one per CVE of every record in force for a
// package's origin whose range covers the package's version, per apk-tools'
// ordering; Package is the installed (binary) package, as Tidewatch reports it.
func (o *AlpineOracle) findings(t testing.TB, pkgs []ApkPackage, layerDiffID string) []ExpectedFinding {
	t.Helper()
	fixes := make(map[ExpectedFinding][]string) // keyed with FixedVersion unset
	for _, p := range pkgs {
		origin := cmp.Or(p.Origin, p.Package)
		for _, rec := range o.byOrigin[origin] {
			cve := recordCVE(t, rec)
			for _, a := range rec.Affected {
				if a.Package.Ecosystem != o.ecosystem || a.Package.Name != origin {
					continue
				}
				if len(a.Versions) > 0 {
					t.Fatalf("%s lists versions; the oracle does not evaluate them", rec.ID)
				}
				for _, r := range a.Ranges {
					if fixed, affected := apkCovers(t, rec.ID, r.Type, r.Events, p.Version); affected {
						key := ExpectedFinding{ID: cve, Package: p.Package, LayerDiffID: layerDiffID}
						fixes[key] = append(fixes[key], fixed)
					}
				}
			}
		}
	}
	out := make([]ExpectedFinding, 0, len(fixes))
	for key, versions := range fixes {
		out = append(out, collapseApk(key, versions))
	}
	slices.SortFunc(out, func(a, b ExpectedFinding) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Package, b.Package))
	})
	return out
}

// collapseApk gives a finding named by several ranges the highest fix, and none if
// any range lacks one.
func collapseApk(f ExpectedFinding, fixes []string) ExpectedFinding {
	for _, v := range fixes {
		if v == "" {
			f.FixedVersion = ""
			break
		}
		if f.FixedVersion == "" || CompareApkVersions(v, f.FixedVersion) > 0 {
			f.FixedVersion = v
		}
	}
	return f
}

// apkCovers reports whether a range "introduced X [, fixed Y]" covers version, and Y.
func apkCovers(t testing.TB, id, typ string, events []map[string]string, version string) (fixed string, affected bool) {
	t.Helper()
	introduced, fixed := rangeEvents(t, id, typ, events)
	for _, v := range []string{version, introduced, fixed} {
		if v != "" && !ValidApkVersion(v) {
			t.Fatalf("%s: %q is not an apk version; the oracle does not order it", id, v)
		}
	}
	if introduced != "0" && CompareApkVersions(version, introduced) < 0 {
		return "", false
	}
	if fixed != "" && CompareApkVersions(version, fixed) >= 0 {
		return "", false
	}
	return fixed, true
}
