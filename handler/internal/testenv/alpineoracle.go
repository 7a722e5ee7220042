package testenv

import (
	"cmp"
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
func (o *AlpineOracle) Findings(t testing.TB, pkgs []ApkPackage, layerDiffID string) []ExpectedFinding {
	t.Helper()
	origin := func(p ApkPackage) string { return cmp.Or(p.Origin, p.Package) }
	ranges := namingRanges(t, pkgs,
		func(p ApkPackage) []*osvRecord { return o.byOrigin[origin(p)] },
		func(p ApkPackage, ecosystem, name string) bool { return ecosystem == o.ecosystem && name == origin(p) })
	return expectFindings(ranges, findingRules[ApkPackage, ExpectedFinding]{
		keys: func(r osvRange[ApkPackage]) []ExpectedFinding {
			return []ExpectedFinding{{ID: recordCVE(t, r.rec), Package: r.pkg.Package, LayerDiffID: layerDiffID}}
		},
		covers: func(r osvRange[ApkPackage]) (string, bool) {
			return apkCovers(t, r.rec.ID, r.typ, r.events, r.pkg.Version)
		},
		collapse: func(_ ExpectedFinding, fixes []string) string {
			return highestFix(fixes, apkLess)
		},
	})
}

func apkLess(a, b string) bool { return CompareApkVersions(a, b) < 0 }

// apkCovers reports whether a range "introduced X [, fixed Y]" covers version, and
// Y; a version apk-tools would not parse fails the test.
func apkCovers(t testing.TB, id, typ string, events []map[string]string, version string) (fixed string, affected bool) {
	t.Helper()
	introduced, fixed := rangeEvents(t, id, typ, events)
	for _, v := range []string{version, introduced, fixed} {
		if v != "" && !ValidApkVersion(v) {
			t.Fatalf("%s: %q is not an apk version; the oracle does not order it", id, v)
		}
	}
	return intervalCovers(version, introduced, fixed, apkLess)
}
